/** Jest global teardown of the `postgres` project. */
export default async function teardown(): Promise<void> {
  (globalThis as { __threepidPostgres?: { stop(): void } }).__threepidPostgres?.stop();
}
