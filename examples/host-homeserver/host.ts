/**
 * A homeserver that embeds matrix-hs-threepid: one process, one Express app.
 * The module serves the requestToken endpoints, the pages an emailed link
 * opens and `/account/3pid`; this server runs its own UIA stages for
 * `/register` and `/account/password` with the module's `checkThreepidAuth`.
 * Every answer carries the module's CORS headers, so browsers can use it.
 */
import express from 'express';
import {
  clientServerCors,
  createThreepidModule,
  ERRCODE_STATUS,
  isThreepidError,
  parseConfig,
  requireThreepidStage,
  UiaRequired,
  withThreepidVersions,
  type RawConfig,
  type UserAuthority,
} from 'matrix-hs-threepid';
import { createClientApi, MatrixError, matrixErrors, notFound, VERSIONS, type ThreepidBackend } from './client-api';
import { listen, stop, type Running } from './serve';
import { Users } from './users';

export interface HostHomeserverOptions {
  /** Default `example.org`. */
  readonly serverName?: string;
  /** Default 0: any free port on 127.0.0.1. */
  readonly port?: number;
  /** The module's configuration; `public_baseurl` defaults to this server's URL. */
  readonly threepid?: RawConfig;
}

export async function startHostHomeserver(options: HostHomeserverOptions = {}): Promise<Running> {
  const { url, server, handle } = await listen(options.port);
  const users = new Users(options.serverName ?? 'example.org');

  // The module asks this server who an access token belongs to and whether a
  // password is right, for the /account/3pid endpoints it serves.
  const userAuthority: UserAuthority = {
    userIdForAccessToken: async (accessToken) => users.device(accessToken)?.userId ?? null,
    checkPassword: async (userId, password) => users.checkPassword(userId, password),
  };
  const threepid = await createThreepidModule({
    config: parseConfig({ public_baseurl: url, ...options.threepid }),
    serveVersions: false,
    userAuthority,
  });

  // This server's UIA stages call the module; its 3PID directory
  // (`threepid.bindings`) is the one both sides read and write.
  const asMatrixError = (err: unknown): never => {
    if (isThreepidError(err)) throw new MatrixError(ERRCODE_STATUS[err.errcode], err.errcode, err.message, err.extra);
    throw err;
  };
  const backend: ThreepidBackend = {
    threepidStage: (auth, uia) =>
      requireThreepidStage(auth, uia, threepid).catch((err) => {
        if (err instanceof UiaRequired) throw new MatrixError(401, '', '', err.body); // the body has errcode and error when the stage failed
        return asMatrixError(err);
      }),
    ownerOf: (medium, address) =>
      threepid.bindings.get(medium, address).then(
        (binding) => binding.userId,
        (err) => (isThreepidError(err) ? null : Promise.reject(err)), // M_NOT_FOUND, or not an address
      ),
    bind: async (proof, userId) => {
      await threepid.bindings.put(proof.medium, proof.address, userId, proof.validatedAt);
    },
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(clientServerCors); // web clients on any origin: the spec's CORS headers on every answer, OPTIONS 200
  app.use(threepid.clientRouter); // requestToken, submit_url, the emailed link's page
  if (threepid.accountRouter) app.use(threepid.accountRouter); // GET /account/3pid, POST /account/3pid/{add,delete,unbind}
  app.get('/_matrix/client/versions', (_req, res) => {
    res.json(withThreepidVersions({ versions: VERSIONS, unstable_features: {} }));
  });
  app.use(['/_matrix/client/v3', '/_matrix/client/r0'], createClientApi(users, backend));
  app.use(notFound);
  app.use(matrixErrors);
  handle(app);

  return {
    url,
    async close() {
      await stop(server);
      await threepid.close();
    },
  };
}
