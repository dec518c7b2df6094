import type { Config } from 'jest'

const config: Config = {
  testEnvironment: 'node',
  preset: 'ts-jest',
  transform: { "^.+\\.ts$": ["ts-jest", {}] },
  roots: ['<rootDir>/test', '<rootDir>/examples'],
  testMatch: ['**/*.spec.ts', '**/*.test.ts'],
  // Namespace suites need root and run under `npm run test:hosts` (jest.hosts.config.ts).
  testPathIgnorePatterns: ['/node_modules/', '\\.hosts\\.test\\.ts$'],
  // The Angular example has its own install and test (.ci/angular).
  modulePathIgnorePatterns: ['<rootDir>/examples/angular-dashboard/'],
  testTimeout: 60_000,
  // Network suites share two cores: run two files at a time at most.
  maxWorkers: 2
}

export default config
