/**
 * A homeserver that uses matrix-hs-threepid as a sidecar: it imports nothing
 * from the module and has no 3PID routes. The reverse proxy sends the
 * module's paths (requestToken, `/_threepid/client/`, `/account/3pid`,
 * `/versions`) to the sidecar; this server asks the sidecar's internal API
 * whether a UIA stage is proven, and records a new user's 3PID there.
 */
import express, { type RequestHandler } from 'express';
import jwt from 'jsonwebtoken';
import { createClientApi, MatrixError, matrixErrors, notFound, VERSIONS, type Medium, type ThreepidBackend } from './client-api';
import { listen, stop, type Running } from './serve';
import { Users } from './users';

export interface SidecarHostOptions {
  /** Default `example.org`. */
  readonly serverName?: string;
  /** Default 0: any free port on 127.0.0.1. */
  readonly port?: number;
  readonly sidecar: {
    /** The sidecar's internal listener, e.g. `http://127.0.0.1:8091`. */
    readonly internalUrl: string;
    /** Its `homeserver.shared_secret`. */
    readonly sharedSecret: string;
  };
}

/**
 * The client-server spec's CORS headers on every answer, and 200 to a
 * preflight `OPTIONS` on any path, so web clients on any origin can use this
 * server (the sidecar sends the same on the paths it serves).
 */
const cors: RequestHandler = (req, res, next) => {
  res.set({
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization',
  });
  if (req.method === 'OPTIONS') return void res.status(200).end();
  next();
};

export async function startSidecarHostHomeserver(options: SidecarHostOptions): Promise<Running> {
  const { url, server, handle } = await listen(options.port);
  const users = new Users(options.serverName ?? 'example.org');
  const { internalUrl, sharedSecret } = options.sidecar;

  /** One call to the internal API, with a JWT (HS256, shared secret) valid for a minute. */
  async function internal(method: string, path: string, body?: object): Promise<any> {
    const token = jwt.sign({}, sharedSecret, { algorithm: 'HS256', expiresIn: 60 });
    const response = await fetch(`${internalUrl}/_threepid/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer: any = await response.json();
    if (response.status === 401) throw new Error('the sidecar refused our internal API token: check the shared secret');
    if (!response.ok) throw new MatrixError(response.status, answer.errcode ?? 'M_UNKNOWN', answer.error ?? '');
    return answer;
  }
  const binding = (medium: Medium, address: string) => `/bindings/${medium}/${encodeURIComponent(address)}`;

  const backend: ThreepidBackend = {
    // Without the package to import, this server builds the UIA 401 itself.
    async threepidStage(auth: any, { flows, session, completed, flow, consume }) {
      const challenge = (error?: MatrixError) =>
        new MatrixError(401, error?.errcode ?? '', error?.message ?? '', { flows, params: {}, session, completed });
      if (auth?.type !== 'm.login.email.identity' && auth?.type !== 'm.login.msisdn') throw challenge();
      let proof: any;
      try {
        proof = await internal('POST', '/uia/threepid', { auth, flow, consume });
      } catch (err) {
        throw err instanceof MatrixError && err.status < 500 && err.errcode !== 'M_LIMIT_EXCEEDED' ? challenge(err) : err;
      }
      return { medium: proof.medium, address: proof.address, validatedAt: proof.validated_at };
    },
    ownerOf: (medium, address) =>
      internal('GET', binding(medium, address)).then(
        (found) => found.user_id as string,
        (err) => (err instanceof MatrixError && err.status < 500 ? null : Promise.reject(err)), // 404 M_NOT_FOUND, or not an address
      ),
    bind: async (proof, userId) => {
      await internal('PUT', binding(proof.medium, proof.address), { user_id: userId, validated_at: proof.validatedAt });
    },
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(cors);
  // Plain: the sidecar answers /versions for clients, with this list and its flag added.
  app.get('/_matrix/client/versions', (_req, res) => {
    res.json({ versions: VERSIONS, unstable_features: {} });
  });
  app.use(['/_matrix/client/v3', '/_matrix/client/r0'], createClientApi(users, backend));
  app.use(notFound);
  app.use(matrixErrors);
  handle(app);

  return { url, close: () => stop(server) };
}
