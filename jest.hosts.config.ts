import type { Config } from 'jest'
import base from './jest.config'

/** `npm run test:hosts`: suites that build network namespaces (needs root). */
const config: Config = {
  ...base,
  roots: ['<rootDir>/test/hosts'],
  testMatch: ['**/*.hosts.test.ts'],
  testPathIgnorePatterns: [],
  testTimeout: 240_000
}

export default config
