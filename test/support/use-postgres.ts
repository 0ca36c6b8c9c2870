// Setup file of the `postgres` jest project: the harness opens PostgreSQL instead of SQLite.
process.env.THREEPID_TEST_ENGINE = 'postgres';
