/** What a reverse proxy in front of the sidecar must route where (the README's nginx and Caddy examples). */

/** Paths the proxy sends to the sidecar's client listener. */
export const SIDECAR_PATHS: readonly string[] = [
  ...['r0', 'v3'].flatMap((version) => [
    ...['register', 'account/password', 'account/3pid'].flatMap((flow) =>
      ['email', 'msisdn'].map((medium) => `/_matrix/client/${version}/${flow}/${medium}/requestToken`),
    ),
    ...['', '/add', '/delete', '/unbind'].map((end) => `/_matrix/client/${version}/account/3pid${end}`),
  ]),
  '/_threepid/client/v1/email/submit_token',
  '/_threepid/client/v1/email/validate',
  '/_matrix/client/versions',
];

/** Paths that must reach the homeserver, never the sidecar (the internal API among them). */
export const HOMESERVER_PATHS: readonly string[] = [
  '/_matrix/client/v3/register',
  '/_matrix/client/v3/account/password',
  '/_matrix/client/v3/account/3pid/bind',
  '/_matrix/client/v3/account/whoami',
  '/_matrix/client/v3/login',
  '/_matrix/client/v3/register/email/requestToken/extra',
  '/_threepid/v1/sessions/consume',
];
