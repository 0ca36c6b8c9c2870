import build from './build-global-setup';
import { startPostgresServer } from './postgres';

/** Jest global setup of the `postgres` project: one server for the whole run. */
export default async function setup(): Promise<void> {
  build(); // the replica test runs the real sidecar process
  const server = await startPostgresServer();
  process.env.THREEPID_TEST_PG_URL = server.url;
  (globalThis as { __threepidPostgres?: typeof server }).__threepidPostgres = server;
}
