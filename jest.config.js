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
 * end-to-end suite again on PostgreSQL, on a throwaway server the global
 * setup starts (Debian's binaries, installed by test/support/setup-postgres.sh
 * when missing).
 */
module.exports = {
  testTimeout: 20000,
  projects: [
    {
      ...common,
      displayName: 'sqlite',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/build-global-setup.ts',
      // Replicas share a PostgreSQL database: that test runs in the postgres project.
      testPathIgnorePatterns: ['/node_modules/', 'replicas'],
    },
    {
      ...common,
      displayName: 'postgres',
      roots: ['<rootDir>/test/e2e', '<rootDir>/test/regressions'],
      testMatch: ['**/*.test.ts'],
      // The sidecar-process, real-client, CORS and browser tests exercise
      // the process, the proxy and HTTP, not the store; once is enough.
      testPathIgnorePatterns: ['/node_modules/', 'sidecar-cli', 'matrix-js-sdk', 'nginx', '/e2e/cors\\.test', '/e2e/browser-'],
      setupFiles: ['<rootDir>/test/support/use-postgres.ts'],
      globalSetup: '<rootDir>/test/support/postgres-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/postgres-global-teardown.ts',
    },
  ],
};
