// Two projects: `unit` runs without any service; `integration` (integration and e2e suites)
// talks to the real Kafka, Redis, PostgreSQL and GSM emulator that scripts/services-up.sh starts.
const { pathsToModuleNameMapper } = require('./tools/jest/paths');

const shared = {
  transform: { '^.+\\.ts$': ['@swc/jest', require('./tools/jest/swc.json')] },
  moduleNameMapper: pathsToModuleNameMapper(),
  testEnvironment: 'node',
  rootDir: __dirname,
  // The stack's state: Go's module cache under .rotor/cache holds .snap files jest would count as snapshots.
  modulePathIgnorePatterns: ['<rootDir>/.rotor/', '<rootDir>/dist/'],
};

module.exports = {
  // Per-project testTimeout is ignored by Jest; integration hooks stop real consumers, which can take seconds.
  testTimeout: 60000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs,tools}/**/*.spec.ts', '<rootDir>/test/static/**/*.spec.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.int-spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      // Each worker its own Kafka namespace, Redis database and GSM project: suites run in parallel.
      testEnvironment: '<rootDir>/tools/jest/worker-environment.js',
    },
  ],
};
