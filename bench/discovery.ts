/// <reference path="../types/index.d.ts" preserve="true" />
import Hyperswarm from 'hyperswarm'
import Protomux from 'protomux'
import type Corestore from 'corestore'
import type HyperDHT from 'hyperdht'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { ReactiveNetworker } from '../lib/reactive-networker'
import type { LocalNetwork } from '../lib/testnet'
import { randomTopic } from '../test/kit/peers'
import { waitFor } from '../test/kit/wait'
import {
  Resources,
  ScenarioOptions,
  ScenarioResult,
  alternate,
  bootstrappedFirewalledNode,
  metric,
  networkFor,
  now,
  trial
} from './common'

/**
 * Discovery: from `configure` on both sides to both seeing each other, against raw Hyperswarm
 * join → `'connection'` on both sides.
 *
 * Both sides follow the same order so that neither depends on luck (two peers joining at the same
 * instant can miss each other): side 1 joins (announce + lookup) and waits for its discovery to
 * finish, then side 2 joins; the clock stops when both have the other as a peer. DHT nodes are
 * bootstrapped before the clock starts; swarm creation is inside it on both sides.
 */
export async function discovery(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const smoke = opts.smoke ?? false
  const rounds = smoke ? 1 : 50
  const startedAt = new Date()
  const t0 = now()
  const res = new Resources()
  try {
    const net = await networkFor(opts, res)
    // One unmeasured warm-up of each side (module loading, JIT).
    if (!smoke) {
      const warmUp = { ours: async () => (await oursTrial(net)).total, raw: async () => (await rawTrial(net)).total }
      await alternate(1, warmUp, opts.only)
    }
    const second = { ours: [] as number[], raw: [] as number[] }
    const dataBothWays = { ours: [] as number[], raw: [] as number[] }
    const total = await alternate(
      rounds,
      {
        ours: async () => {
          const r = await oursTrial(net)
          second.ours.push(r.second)
          dataBothWays.ours.push(r.total)
          return r.total
        },
        raw: async () => {
          const r = await rawTrial(net)
          second.raw.push(r.second)
          dataBothWays.raw.push(r.data)
          return r.total
        }
      },
      opts.only
    )
    return {
      scenario: 'discovery',
      title: 'Discovery: configure on both sides until both see the peer',
      smoke,
      startedAt: startedAt.toISOString(),
      durationMs: now() - t0,
      params: { rounds, dhtNodes: 3 },
      metrics: [
        metric({
          key: 'both-connected',
          label: 'join on both sides → both connected',
          unit: 'ms',
          better: 'lower',
          ours: total.ours,
          raw: total.raw,
          target: { op: '<=', value: 1.1, on: 'ratio' }
        }),
        metric({
          key: 'second-join',
          label: 'second side joins → both connected',
          unit: 'ms',
          better: 'lower',
          ours: second.ours,
          raw: second.raw
        }),
        metric({
          key: 'data-both-ways',
          label: 'join on both sides → data crossed both ways (raw: a probe channel opened by both; ours: both connected)',
          unit: 'ms',
          better: 'lower',
          ours: dataBothWays.ours,
          raw: dataBothWays.raw
        })
      ],
      checks: {
        trials: total.ours.length + total.raw.length,
        allConnected: true
      },
      notes: [
        'Side 1 joins and waits for its announce to finish (configure with flush / session.flushed()), then side 2 joins.'
      ]
    }
  } finally {
    await res.cleanup()
  }
}

interface DiscoveryTiming {
  /** ms from the first join to both connected. */
  total: number
  /** ms from the second join to both connected. */
  second: number
  /** Raw only: ms from the first join until both sides saw the other open a Protomux channel. */
  data: number
}

/** What each side of a trial starts from: a fresh store, ready, and a bootstrapped DHT node. */
export interface TrialSide {
  readonly store: Corestore
  readonly dht: HyperDHT
}

/** The two sides of a trial, A and B (closed at the cleanup of `res`). */
export async function trialSides(net: LocalNetwork, res: Resources): Promise<[TrialSide, TrialSide]> {
  const [storeA, storeB] = [res.store(), res.store()]
  await Promise.all([storeA.ready(), storeB.ready()])
  const [dhtA, dhtB] = await Promise.all([bootstrappedFirewalledNode(net, res), bootstrappedFirewalledNode(net, res)])
  return [
    { store: storeA, dht: dhtA },
    { store: storeB, dht: dhtB }
  ]
}

/** Two networkers on the two sides of a trial, closed at the cleanup of `res`. */
export async function networkerPair(net: LocalNetwork, res: Resources): Promise<[ReactiveNetworker, ReactiveNetworker]> {
  const [sideA, sideB] = await trialSides(net, res)
  const a = new ReactiveNetworker(sideA.store, { dht: sideA.dht })
  const b = new ReactiveNetworker(sideB.store, { dht: sideB.dht })
  res.defer(() => Promise.all([a.close(), b.close()]))
  return [a, b]
}

/** Ours: two networkers on fresh stores; `configure` on one, then on the other. */
function oursTrial(net: LocalNetwork): Promise<DiscoveryTiming> {
  return trial(async (res) => {
    const [a, b] = await networkerPair(net, res)
    const topic = randomTopic()
    const bothSee = Promise.all([
      waitFor(a.peers$, (peers) => peers.length === 1),
      waitFor(b.peers$, (peers) => peers.length === 1)
    ])
    const start = now()
    await a.configure(topic, { announce: true, lookup: true })
    const secondStart = now()
    const configuringB = b.configure(topic, { announce: true, lookup: true })
    await bothSee
    const end = now()
    await configuringB
    return { total: end - start, second: end - secondStart, data: end - start }
  })
}

/** Raw: two Hyperswarms replicating their stores; join and flush on one, then join on the other. */
function rawTrial(net: LocalNetwork): Promise<DiscoveryTiming> {
  return trial(async (res) => {
    const [sideA, sideB] = await trialSides(net, res)
    const topic = randomTopic()
    let connectedA: () => void = () => {}
    let connectedB: () => void = () => {}
    let dataA: () => void = () => {}
    let dataB: () => void = () => {}
    const bothSee = Promise.all([
      new Promise<void>((resolve) => (connectedA = resolve)),
      new Promise<void>((resolve) => (connectedB = resolve))
    ])
    // What a peer of ours means (data has crossed), on the bare stack: a first frame each way.
    const bothData = Promise.all([new Promise<void>((resolve) => (dataA = resolve)), new Promise<void>((resolve) => (dataB = resolve))])
    const start = now()
    const a = rawSwarm(res, sideA, () => connectedA(), () => dataA())
    await a.join(topic, { server: true, client: true }).flushed()
    const secondStart = now()
    const b = rawSwarm(res, sideB, () => connectedB(), () => dataB())
    const joiningB = b.join(topic, { server: true, client: true }).flushed()
    await bothSee
    const end = now()
    await bothData
    const dataEnd = now()
    await joiningB
    return { total: end - start, second: end - secondStart, data: dataEnd - start }
  })
}

/**
 * A bare Hyperswarm that replicates its store on every connection and opens a probe channel on
 * it; `onconnection` comes first, before anything is written.
 */
export function rawSwarm(
  res: Resources,
  { store, dht }: TrialSide,
  onconnection: (conn: NoiseSecretStream) => void,
  ondata: () => void
): Hyperswarm {
  const swarm = new Hyperswarm({ dht })
  res.defer(() => swarm.destroy())
  swarm.on('connection', (conn: NoiseSecretStream) => {
    conn.on('error', () => {})
    onconnection(conn)
    store.replicate(conn)
    // The bare stack's way to know data flows: a channel of its own that the remote opens too.
    Protomux.from(conn).createChannel({ protocol: 'bench/probe', onopen: ondata })?.open()
  })
  return swarm
}
