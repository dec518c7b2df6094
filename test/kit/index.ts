/**
 * The one helper kit of the tests and the benchmarks. Each module has one job; this barrel
 * names what they export, for the tests. bench/ imports the modules it needs directly, so that a
 * trial forked into a fresh process (bench/isolate.ts) loads no more than it uses.
 */
export { sleep, until, waitFor } from './wait'
export { collectGarbage, getGc, measureAllocation, memory } from './gc'
export { firewalledNode, firewalledOptions } from './dht'
export type { FirewalledNodeOptions } from './dht'
export { createHarness, plainSwarm, spawnFixture } from './harness'
export type { Fixture, Harness } from './harness'
export { connect, connectedPair, noiseOf, randomTopic, waitForPeers } from './peers'
export type { Connected, Endpoint } from './peers'
export { recordErrors, watchWarnings } from './record'
export type { RecordedWarning } from './record'
export { clientKit, fakeNetworker, fakePeer, rawClient } from './remote'
export type { ClientKit, FakeExtension, FakeNetworker, RawClient } from './remote'
