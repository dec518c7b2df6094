/**
 * What observing costs (issue 23): `npm run bench:metrics [-- --rounds R --blocks B --part P]`.
 *
 * 1. Replication of B × 64 KiB blocks (default 1,000) to a fresh store, our networker on both
 *    ends, with a `metrics$({ interval: 100 })` subscriber on both ends against none, rounds
 *    alternating (default 5 each, after one unmeasured warm-up of each). Goal: ≥ 0.98×.
 * 2. One sample with 32 peers and 1,000 cores: a hub networker whose store holds 1,000 open
 *    cores, 32 networkers connected to it, a `metrics$` subscriber at 100 ms; the cost of
 *    `metrics()` (the same sampling a tick does), 200 calls, median and 95th percentile, and the
 *    share of core values kept from the sample before (nothing moved); then 50 samples each after
 *    one block was appended to every core (no value can be kept). Goal: under 2 ms per tick.
 * `--part replication` or `--part sample` runs one of them. Prints JSON lines and a summary.
 * Run it alone on the machine.
 */
/// <reference path="../types/index.d.ts" preserve="true" />
import { randomBytes } from 'crypto'
import type Corestore from 'corestore'
import { Subscription } from 'rxjs'
import { ReactiveNetworker } from '../lib/reactive-networker'
import type { LocalNetwork } from '../lib/testnet'
import { waitFor } from '../test/kit/wait'
import {
  MiB,
  Resources,
  ScenarioOptions,
  ScenarioResult,
  bootstrappedFirewalledNode,
  median,
  metric,
  networkFor,
  now,
  numberArg,
  percentile,
  stringArg,
  trial
} from './common'

const BLOCK_SIZE = 64 * 1024

async function replicationTrial(net: LocalNetwork, writerStore: Corestore, key: Buffer, discoveryKey: Buffer, blocks: number, observe: boolean): Promise<number> {
  return trial(async (res) => {
    const readerStore = res.store()
    const clone = readerStore.get({ key })
    await clone.ready()
    const writer = new ReactiveNetworker(writerStore, { dht: await bootstrappedFirewalledNode(net, res) })
    const reader = new ReactiveNetworker(readerStore, { dht: await bootstrappedFirewalledNode(net, res) })
    res.defer(() => Promise.all([writer.close(), reader.close()]))
    const subscriptions = new Subscription()
    res.defer(() => subscriptions.unsubscribe())
    let samples = 0
    if (observe) {
      for (const n of [writer, reader]) subscriptions.add(n.metrics$({ interval: 100 }).subscribe(() => samples++))
    }
    await writer.configure(discoveryKey, { announce: true, lookup: false })
    const connected = waitFor(reader.peers$, (peers) => peers.length === 1)
    void reader.configure(discoveryKey, { announce: false, lookup: true }).catch(() => {})
    await connected
    const start = now()
    await clone.download({ start: 0, end: blocks }).done()
    const elapsed = now() - start
    if (clone.contiguousLength !== blocks) throw new Error(`downloaded ${clone.contiguousLength} of ${blocks}`)
    if (observe && samples === 0) throw new Error('the metrics$ subscribers got no sample')
    return (blocks * BLOCK_SIZE) / MiB / (elapsed / 1000)
  })
}

async function replication(res: Resources, net: LocalNetwork, blocks: number, rounds: number, log: (line: string) => void) {
  const writerStore = res.store()
  const core = writerStore.get({ name: 'metrics-overhead' })
  await core.ready()
  const block = randomBytes(BLOCK_SIZE)
  const batch: Buffer[] = []
  for (let i = 0; i < blocks; i++) {
    const copy = Buffer.from(block)
    copy.writeUInt32BE(i, 0)
    batch.push(copy)
    if (batch.length === 100 || i === blocks - 1) await core.append(batch.splice(0))
  }
  const run = (observe: boolean, n = blocks): Promise<number> =>
    replicationTrial(net, writerStore, core.key as Buffer, core.discoveryKey as Buffer, n, observe)
  await run(false, Math.ceil(blocks / 5))
  await run(true, Math.ceil(blocks / 5))
  const without: number[] = []
  const withMetrics: number[] = []
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false]
    for (const observe of order) {
      const mibs = await run(observe)
      ;(observe ? withMetrics : without).push(mibs)
      log(JSON.stringify({ part: 'replication', round, metrics: observe, mibPerSecond: +mibs.toFixed(1) }))
    }
  }
  return { without: median(without), withMetrics: median(withMetrics), ratio: +(median(withMetrics) / median(without)).toFixed(3), samples: { without, withMetrics } }
}

async function sampleCost(res: Resources, net: LocalNetwork, peers: number, cores: number, samples: number, changedSamples: number) {
  const hubStore = res.store()
  const keys: Buffer[] = []
  for (let i = 0; i < cores; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, cores - i) }, async (_, j) => {
        const core = hubStore.get({ name: `core-${i + j}` })
        await core.ready()
        await core.append(Buffer.from(`block of core ${i + j}`))
        keys[i + j] = core.key as Buffer
      })
    )
  }
  const hub = new ReactiveNetworker(hubStore, { dht: await bootstrappedFirewalledNode(net, res) })
  res.defer(() => hub.close())
  const topic = randomBytes(32)
  await hub.configure(topic, { announce: true, lookup: false })
  const others: ReactiveNetworker[] = []
  const stores = new Map<ReactiveNetworker, Corestore>()
  for (let i = 0; i < peers; i++) {
    const store = res.store()
    const n = new ReactiveNetworker(store, { dht: await bootstrappedFirewalledNode(net, res) })
    res.defer(() => n.close())
    stores.set(n, store)
    others.push(n)
  }
  await Promise.all(others.map((n) => n.configure(topic, { announce: false, lookup: true })))
  await waitFor(hub.peers$, (p) => p.length === peers, 60_000)
  // Every core is replicated: peer i opens cores i, i + peers, … and fetches their block, so each
  // of the hub's cores has a replication session with one peer.
  await Promise.all(
    others.map(async (n, i) => {
      const store = stores.get(n) as Corestore
      for (let k = i; k < cores; k += peers) {
        const clone = store.get({ key: keys[k] })
        await clone.ready()
        await clone.get(0)
      }
    })
  )
  const subscription = hub.metrics$({ interval: 100 }).subscribe()
  res.defer(() => subscription.unsubscribe())
  await new Promise((resolve) => setTimeout(resolve, 500))
  const sample = hub.metrics()
  const times: number[] = []
  /** Core values that were those of the sample before (nothing moved): the usual case. */
  let reused = 0
  let prior = sample
  for (let i = 0; i < samples; i++) {
    // metrics() hands back the sample taken in the same millisecond: step past it each time.
    await new Promise((resolve) => setTimeout(resolve, 3))
    const start = performance.now()
    const taken = hub.metrics()
    times.push(performance.now() - start)
    for (const k of Object.keys(taken.cores)) if (taken.cores[k] === prior.cores[k]) reused++
    prior = taken
    if (Object.keys(taken.cores).length !== cores) throw new Error(`a sample of ${Object.keys(taken.cores).length} cores`)
  }
  // The worst case: every core changed since the last sample (one block appended to each between
  // two samples), so no core's value can be the one of the sample before. Without the 100 ms
  // ticker (appending to 1,000 cores outlasts a tick): each measured sample follows the one taken
  // just before the appends.
  subscription.unsubscribe()
  const hubCores = keys.map((key) => hubStore.get({ key }))
  await Promise.all(hubCores.map((core) => core.ready()))
  res.defer(() => Promise.all(hubCores.map((core) => core.close())))
  const changedTimes: number[] = []
  for (let i = 0; i < changedSamples; i++) {
    const before = hub.metrics()
    await Promise.all(hubCores.map((core) => core.append(Buffer.from(`block ${i + 1}`))))
    await new Promise((resolve) => setTimeout(resolve, 3))
    const start = performance.now()
    const taken = hub.metrics()
    changedTimes.push(performance.now() - start)
    if (Object.keys(taken.cores).some((k) => taken.cores[k] === before.cores[k] || taken.cores[k].length !== i + 2)) {
      throw new Error('a core whose value did not change')
    }
  }
  return {
    peers: Object.keys(sample.peers).length,
    cores: Object.keys(sample.cores).length,
    times,
    changedTimes,
    medianMs: +median(times).toFixed(3),
    p95Ms: +percentile(times, 95).toFixed(3),
    reusedShare: +(reused / (samples * cores)).toFixed(3),
    changedMedianMs: +median(changedTimes).toFixed(3),
    changedP95Ms: +percentile(changedTimes, 95).toFixed(3)
  }
}

/**
 * The `metrics` scenario of `npm run bench`: what observing costs. "raw" here is our own layer
 * unobserved (the baseline of an overhead), not the bare stack.
 */
export async function metrics(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const smoke = opts.smoke ?? false
  const log = opts.log ?? (() => {})
  const sizes = smoke
    ? { blocks: 20, rounds: 1, peers: 2, cores: 20, samples: 10, changedSamples: 3 }
    : { blocks: 1000, rounds: 9, peers: 32, cores: 1000, samples: 200, changedSamples: 50 }
  const startedAt = new Date()
  const t0 = now()
  const res = new Resources()
  try {
    const net = await networkFor(opts, res)
    const rep = await replication(res, net, sizes.blocks, sizes.rounds, log)
    const cost = await sampleCost(res, net, sizes.peers, sizes.cores, sizes.samples, sizes.changedSamples)
    return {
      scenario: 'metrics',
      title: 'What observing costs: replication beside metrics$, and one sample of a large networker',
      smoke,
      startedAt: startedAt.toISOString(),
      durationMs: now() - t0,
      params: { blocks: sizes.blocks, blockSize: BLOCK_SIZE, rounds: sizes.rounds, interval: 100, peers: sizes.peers, cores: sizes.cores, samples: sizes.samples, changedSamples: sizes.changedSamples },
      metrics: [
        metric({
          key: 'replication-observed',
          label: `replication of ${sizes.blocks} x 64 KiB with metrics$ at 100 ms on both ends (raw: the same without metrics$)`,
          unit: 'MiB/s',
          better: 'higher',
          ours: rep.samples.withMetrics,
          raw: rep.samples.without,
          target: { op: '>=', value: 0.98, on: 'ratio' }
        }),
        metric({
          key: 'sample',
          label: `one sample, ${cost.peers} peers and ${cost.cores} cores, nothing moving (median)`,
          unit: 'ms',
          better: 'lower',
          ours: cost.times,
          raw: null,
          target: { op: '<=', value: 2, on: 'ours' },
          keepSamples: false
        }),
        metric({
          key: 'sample-p95',
          label: `one sample, ${cost.peers} peers and ${cost.cores} cores, nothing moving (95th percentile)`,
          unit: 'ms',
          better: 'lower',
          ours: cost.times,
          raw: null,
          target: { op: '<=', value: 2, on: 'ours' },
          reduce: (xs) => percentile(xs, 95),
          keepSamples: false
        }),
        metric({
          key: 'sample-changed',
          label: `one sample after every core changed (median)`,
          unit: 'ms',
          better: 'lower',
          ours: cost.changedTimes,
          raw: null,
          keepSamples: false
        }),
        metric({
          key: 'sample-changed-p95',
          label: `one sample after every core changed (95th percentile)`,
          unit: 'ms',
          better: 'lower',
          ours: cost.changedTimes,
          raw: null,
          reduce: (xs) => percentile(xs, 95),
          keepSamples: false
        })
      ],
      checks: { samplePeers: cost.peers, sampleCores: cost.cores, reusedShare: cost.reusedShare },
      notes: [
        'The replication row compares our layer with itself: "raw" is the run without a metrics$ subscriber (rounds alternate), so the ratio is the cost of observing.',
        'A sample keeps the frozen value of a core where nothing moved since a sample that showed its rates at 0 (reusedShare: the share of core values kept while idle); after one block was appended to every core, none can be kept.'
      ]
    }
  } finally {
    await res.cleanup()
  }
}

async function main(): Promise<void> {
  const rounds = numberArg('rounds', 5)
  const blocks = numberArg('blocks', 1000)
  const part = stringArg('part') ?? 'both'
  if (!['both', 'replication', 'sample'].includes(part)) throw new Error(`--part is replication or sample, not ${part}`)
  const res = new Resources()
  try {
    const net = await networkFor({}, res)
    if (part !== 'sample') {
      const rep = await replication(res, net, blocks, rounds, (line) => console.log(line))
      console.log(JSON.stringify({ part: 'replication', summary: true, ...rep }))
    }
    if (part !== 'replication') {
      const { times, changedTimes, ...cost } = await sampleCost(res, net, numberArg('peers', 32), numberArg('cores', 1000), numberArg('samples', 200), numberArg('changed-samples', 50))
      console.log(JSON.stringify({ part: 'sample', summary: true, ...cost }))
    }
  } finally {
    await res.cleanup()
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err)
      process.exit(1)
    }
  )
}
