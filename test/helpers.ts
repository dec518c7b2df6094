/**
 * The old path of the test kit, kept so that test/hosts/ (and branches written before the kit
 * moved) still compile. New code imports `./kit` (test/kit/index.ts).
 */
export {
  collectGarbage,
  connectedPair,
  createHarness,
  firewalledOptions,
  noiseOf,
  plainSwarm,
  randomTopic,
  sleep,
  spawnFixture,
  until,
  waitFor,
  waitForPeers
} from './kit'
export type { Fixture, Harness } from './kit'
