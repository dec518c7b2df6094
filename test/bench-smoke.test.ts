/**
 * Every benchmark scenario at tiny size (`{ smoke: true }`), so the suite never rots. Nothing
 * here asserts a timing: only that each scenario completes, on both sides, with sane results.
 */
import { createLocalNetwork, LocalNetwork } from '../lib/testnet'
import type { Metric, ScenarioResult } from '../bench/common'
import { discovery } from '../bench/discovery'
import { replication } from '../bench/replication'
import { extThroughput } from '../bench/ext-throughput'
import { extLatency } from '../bench/ext-latency'
import { topics } from '../bench/topics'
import { peers } from '../bench/peers'
import { operators } from '../bench/operators'
import { metrics } from '../bench/metrics-overhead'

jest.setTimeout(30_000)

let net: LocalNetwork
beforeAll(async () => {
  net = await createLocalNetwork()
})
afterAll(async () => {
  await net.destroy()
})

function metricOf(result: ScenarioResult, key: string): Metric {
  const found = result.metrics.find((m) => m.key === key)
  if (found === undefined) throw new Error(`no metric ${key} in ${result.scenario}`)
  return found
}

/** Both sides measured, and the ratio a finite positive number. */
function expectCompared(result: ScenarioResult, key: string): void {
  const m = metricOf(result, key)
  expect(Number.isFinite(m.ours)).toBe(true)
  expect(Number.isFinite(m.raw)).toBe(true)
  expect(Number.isFinite(m.ratio)).toBe(true)
  expect(m.ratio).toBeGreaterThan(0)
}

test('discovery: both sides connect in every trial', async () => {
  const result = await discovery({ smoke: true, net })
  expect(result.smoke).toBe(true)
  expectCompared(result, 'both-connected')
  expectCompared(result, 'second-join')
})

test('replication: every block reaches the reader on both sides', async () => {
  const result = await replication({ smoke: true, net })
  expect(result.checks.allBlocksReplicatedOurs).toBe(true)
  expect(result.checks.allBlocksReplicatedRaw).toBe(true)
  expectCompared(result, 'throughput')
})

test('extension throughput: no message lost, none dropped, single and batched', async () => {
  const result = await extThroughput({ smoke: true, net })
  expect(result.checks.sent).toBeGreaterThan(0)
  expect(result.checks.lost).toBe(0)
  expect(result.checks.oursDropped).toBe(0)
  expect(result.checks.oursStatsConsistent).toBe(true)
  expectCompared(result, 'single')
  expectCompared(result, 'batched')
})

test('extension latency: every round trip completes on both sides', async () => {
  const result = await extLatency({ smoke: true, net })
  expect(result.checks.roundTripsOurs).toBe(result.params.tripsPerRound)
  expect(result.checks.roundTripsRaw).toBe(result.params.tripsPerRound)
  expect(result.checks.allFinite).toBe(true)
  expectCompared(result, 'median')
  expectCompared(result, 'p99')
})

test('topics: every topic flushes and topics$ sees every state (trials in child processes)', async () => {
  const result = await topics({ smoke: true, net, isolate: true })
  expect(result.checks.everyTopicFlushed).toBe(true)
  expect(result.checks.topicsSubscriberSawEveryState).toBe(true)
  expect(result.checks.watchedTopicsSawEveryState).toBe(true)
  expectCompared(result, 'time')
  expect(Number.isFinite(metricOf(result, 'heap').ours)).toBe(true)
})

test('peers: ours forms the full mesh both ways and everything closes', async () => {
  const result = await peers({ smoke: true, net })
  expect(result.checks.fullMeshOurs).toBe(true)
  expect(result.checks.allClosedOurs).toBe(true)
  expect(result.checks.allClosedRaw).toBe(true)
  expect(Number.isFinite(metricOf(result, 'mesh-staggered').ours)).toBe(true)
  expect(Number.isFinite(metricOf(result, 'rss').ours)).toBe(true)
})

test('operators: each operator gives the same output as its hand-written baseline', async () => {
  const result = await operators({ smoke: true })
  for (const name of ['dedupeConnections', 'peerSet', 'peerSet-1000', 'detectFlush']) {
    expect(result.checks[`${name}SameOutputAsBaseline`]).toBe(true)
    expect(result.checks[`${name}Outputs`]).toBeGreaterThan(0)
    expectCompared(result, `${name}-rate`)
  }
})

test('metrics: replication with and without metrics$ completes, and every sample has every core', async () => {
  const result = await metrics({ smoke: true, net })
  expectCompared(result, 'replication-observed')
  expect(result.checks.sampleCores).toBe(20)
  expect(result.checks.samplePeers).toBe(2)
  // Nothing moves between the idle samples: every core's value is kept.
  expect(result.checks.reusedShare).toBe(1)
  for (const key of ['sample', 'sample-p95', 'sample-changed', 'sample-changed-p95']) expect(metricOf(result, key).ours).toBeGreaterThan(0)
})
