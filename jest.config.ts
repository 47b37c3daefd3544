import type { Config } from 'jest';

// Tests import the package names (`claude-rx`, `claude-rx/nest`, `claude-rx/testing`, `claude-rx/redis`); they map to source here.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^claude-rx$': '<rootDir>/lib/index.ts',
    '^claude-rx/nest$': '<rootDir>/nest-module/index.ts',
    '^claude-rx/testing$': '<rootDir>/lib/testing/index.ts',
    '^claude-rx/redis$': '<rootDir>/lib/redis/index.ts',
    '^claude-rx/client$': '<rootDir>/lib/client/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true }],
  },
  testTimeout: 20_000,
};

export default config;
