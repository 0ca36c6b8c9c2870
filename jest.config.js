/** @type {import('jest').Config} */
const common = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': 'ts-jest',
    // matrix-js-sdk is ESM only: its files are compiled to CommonJS like ours.
    '/node_modules/matrix-js-sdk/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, isolatedModules: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!matrix-js-sdk/)'],
  // The examples import the package by name, as an integrator's code would.
  moduleNameMapper: { '^matrix-hs-threepid$': '<rootDir>/src/index.ts' },
};

/**
 * Two projects: every test on SQLite (the embedded default), and the
 * end-to-end suite and the store-level tests again on PostgreSQL, on a
 * throwaway server the global setup starts (Debian's binaries, installed by test/support/setup-postgres.sh
 * when missing).
 */
module.exports = {
  testTimeout: 20000,
  // Coverage of src/ over both projects, as a floor the suite may only raise:
  // each figure is what the suite reached when the gate was last raised
  // (96.2 / 90.8 / 96.0 / 97.6 on Node 20 and 24 alike), rounded down and less
  // one point, for the retry and recovery paths that timing decides.
  // `npm test` runs jest with --coverage; a run of a few files does not.
  collectCoverageFrom: ['<rootDir>/src/**/*.ts'],
  coverageReporters: ['text-summary'],
  coverageThreshold: { global: { statements: 95, branches: 89, functions: 94, lines: 96 } },
  projects: [
    {
      ...common,
      displayName: 'sqlite',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/build-global-setup.ts',
      // Replicas share a PostgreSQL database: that test runs in the postgres project.
      testPathIgnorePatterns: ['/node_modules/', '/e2e/replicas\\.test'],
    },
    {
      ...common,
      displayName: 'postgres',
      roots: ['<rootDir>/test'],
      // The end-to-end suite, and the store-level unit tests (sessions, the
      // service over the store, the outbox worker, the key report), which open their database
      // through test/support/postgres.ts's openTestDatabase.
      testMatch: [
        '<rootDir>/test/e2e/**/*.test.ts',
        '<rootDir>/test/regressions/**/*.test.ts',
        '<rootDir>/test/unit/store/sessions.test.ts',
        '<rootDir>/test/unit/store/outbox-failed-count.test.ts',
        '<rootDir>/test/unit/store/precompiled-queries.test.ts',
        '<rootDir>/test/unit/key-report.test.ts',
        '<rootDir>/test/unit/threepid/service.test.ts',
        '<rootDir>/test/unit/delivery/outbox-worker.test.ts',
      ],
      // The sidecar-process, real-client, proxy, CORS and browser tests
      // exercise the process, the proxy and HTTP, not the store; so do the
      // tests of input validation, the versions endpoint, languages, log
      // hygiene and the internal token. Once is enough. (Patterns name the
      // test folder, so the checkout's own path cannot match them.)
      testPathIgnorePatterns: [
        '/node_modules/',
        '/e2e/sidecar-cli\\.test',
        // The README's quick start runs on the fixed ports 8090 and 8091: once, never twice at a time.
        '/e2e/readme-quick-start\\.test',
        '/regressions/dev-files-working-directory-removed\\.test',
        '/e2e/matrix-js-sdk\\.test',
        '/e2e/nginx',
        '/e2e/synapse',
        '/e2e/reverse-proxies\\.test',
        '/e2e/systemd',
        '/e2e/cors\\.test',
        '/e2e/browser-',
        '/e2e/bundled-host\\.test',
        '/regressions/public-listener-flood\\.test',
        '/e2e/request-token-errors\\.test',
        // The address policy decides before the store is touched.
        '/e2e/address-policy\\.test',
        '/e2e/versions\\.test',
        '/e2e/malformed-path\\.test',
        '/e2e/languages\\.test',
        '/e2e/no-address-in-logs\\.test',
        '/regressions/malformed-text\\.test',
        '/regressions/jwt-lifetime\\.test',
        // The process's life (start, close, signals) and SQLite's own
        // checkpoint thread: nothing of PostgreSQL in them.
        '/regressions/failed-start-exit-status\\.test',
        '/regressions/close-right-after-start\\.test',
        '/regressions/sighup-keeps-running\\.test',
        '/regressions/checkpoint-thread-full-disk\\.test',
        // These bring their own database (a PostgreSQL server they restart
        // or stop, a SQLite file they fill or lock): once is enough.
        '/regressions/postgres-restart-under-load\\.test',
        '/regressions/postgres-hangs\\.test',
        '/regressions/sqlite-disk-full\\.test',
        '/regressions/sqlite-locked-by-another-process\\.test',
        '/regressions/sqlite-busy-queue\\.test',
        // SQLite killed mid-burst, SMTP answers, signals, headers: nothing
        // of PostgreSQL in them.
        '/e2e/held-under-faults\\.test',
      ],
      setupFiles: ['<rootDir>/test/support/use-postgres.ts'],
      globalSetup: '<rootDir>/test/support/postgres-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/postgres-global-teardown.ts',
    },
  ],
};
