import type { Config } from 'jest';

// Tests run against source: the package scope maps to packages/*/src, so `pnpm test` needs no build.
const shared = {
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      },
    ],
  },
  moduleNameMapper: {
    '^@command-manager/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
    '^@command-manager-examples/([a-z-]+)$': '<rootDir>/examples/$1/src/index.ts',
  },
  testEnvironment: 'node',
  rootDir: __dirname,
} satisfies Partial<Config>;

const config: Config = {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/examples/*/test/**/*.test.ts'],
      testPathIgnorePatterns: ['\\.int\\.test\\.ts$', '\\.fault\\.test\\.ts$', '/node_modules/'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/packages/*/test/**/*.int.test.ts', '<rootDir>/examples/*/test/**/*.int.test.ts'],
      globalSetup: '<rootDir>/packages/test-support/src/jest-global-setup.ts',
      globalTeardown: '<rootDir>/packages/test-support/src/jest-global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/packages/test-support/test/setup/integration-setup.ts'],
    },
    {
      // The fault suite (`pnpm test:faults`): real sidecar processes killed and restarted, a real OpenSearch
      // stopped and restarted, a faulty Management API, hostile input. Not part of `pnpm test`.
      ...shared,
      displayName: 'faults',
      testMatch: ['<rootDir>/packages/*/test/faults/**/*.fault.test.ts'],
      globalSetup: '<rootDir>/packages/test-support/src/jest-global-setup.ts',
      globalTeardown: '<rootDir>/packages/test-support/src/jest-global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/packages/test-support/test/setup/integration-setup.ts'],
    },
  ],
};

export default config;
