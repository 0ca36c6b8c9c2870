/**
 * The form of an identity server's name as clients send it (`id_server`) and
 * operators list it (`identity_server.trusted`): a bare host name or IP
 * literal with an optional port, and no scheme, path or userinfo. Shared by
 * the config, the domain and the identity client, so it imports nothing.
 */
const ID_SERVER_PATTERN = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;

export function isBareHost(idServer: string): boolean {
  const match = ID_SERVER_PATTERN.exec(idServer);
  return match !== null && (match[1] === undefined || (Number(match[1]) >= 1 && Number(match[1]) <= 65535));
}
