/** What `bench/server.ts` is asked to run (passed as JSON in argv[2]). */
export type ServerSpec =
  | { readonly kind: 'bare'; readonly databasePath: string }
  | {
      readonly kind: 'module';
      readonly databasePath: string;
      readonly smtpPort: number;
      /** Synapse's default `rc_3pid_validation` instead of a limit the load never reaches. */
      readonly rateLimited?: boolean;
    };

/** The child's own account of its resources: RSS in bytes, CPU time (user + system) in microseconds. */
export interface Usage {
  readonly rss: number;
  readonly cpuMicros: number;
}

/** Child → parent. */
export type ChildMessage = { readonly type: 'ready'; readonly port: number } | ({ readonly type: 'usage' } & Usage);

/** Parent → child. */
export type ParentMessage = { readonly type: 'stop' } | { readonly type: 'usage' };

/** The path the bare baseline answers on, the same as the module's. */
export const REQUEST_TOKEN_PATH = '/_matrix/client/v3/register/email/requestToken';
