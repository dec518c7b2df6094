/// <reference path="../types/index.d.ts" preserve="true" />
import Hyperswarm from 'hyperswarm'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { Subscription } from 'rxjs'
import { ReactiveNetworker } from '../lib/reactive-networker'
import type { LocalNetwork } from '../lib/testnet'
import type { TopicState } from '../operators/types'
import { isolated } from './isolate'
import { memory } from '../test/kit/gc'
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
  round,
  trial
} from './common'

/** How many topics get a `topic$` subscriber that records every state it sees. */
const WATCHED = 10

/**
 * dht-rpc's default congestion window (80 requests per 750 ms tick) caps a node at about 40
 * new topics a second whatever sits above it; both sides get this wider window so the
 * scenario measures the layers, not the window, in a few seconds.
 */
const RAISED_WINDOW = 10_000

export interface TopicsOptions extends ScenarioOptions {
  /** Topics to join. Default 1000 (20 with `smoke`). */
  topics?: number
  /** The DHT nodes' congestion window: a number, or `'default'` for dht-rpc's own. Default 10000. */
  dhtWindow?: number | 'default'
  /** Run every trial in a fresh Node process (clean RSS). Default: true unless `smoke` or `only`. */
  isolate?: boolean
  /** Rounds per side. Default 3 (1 with `smoke`). */
  rounds?: number
}

/**
 * Topics at scale: one networker joins `topics` topics (announce + lookup) with `flush: false`,
 * then waits for one flush of them all (every topic `flushed` on `topics$`). The baseline is a
 * bare Hyperswarm joining the same number of topics, then `swarm.flush()`. Time, heap and RSS per
 * topic (memory after a full collection, before and after, with every topic still joined).
 */
export async function topics(opts: TopicsOptions = {}): Promise<ScenarioResult> {
  const smoke = opts.smoke ?? false
  const count = opts.topics ?? (smoke ? 20 : 1000)
  const rounds = opts.rounds ?? (smoke ? 1 : 3)
  const isolate = opts.isolate ?? (!smoke && opts.only === undefined)
  const window = opts.dhtWindow === 'default' ? null : (opts.dhtWindow ?? RAISED_WINDOW)
  const startedAt = new Date()
  const t0 = now()
  const res = new Resources()
  try {
    const net = await networkFor(opts, res)
    const heap = { ours: [] as number[], raw: [] as number[] }
    const rss = { ours: [] as number[], raw: [] as number[] }
    const seen: SeenChecks[] = []
    const time = await alternate(
      rounds,
      {
        ours: async () => {
          const r = isolate
            ? await isolated<OursTopicsRun>(net, 'topics:oursTrial', [count, window])
            : await oursTrial(net, count, window)
          heap.ours.push(r.heapPerTopic)
          rss.ours.push(r.rssPerTopic)
          seen.push(r.seen)
          return r.msPerTopic
        },
        raw: async () => {
          const r = isolate
            ? await isolated<TopicsRun>(net, 'topics:rawTrial', [count, window])
            : await rawTrial(net, count, window)
          heap.raw.push(r.heapPerTopic)
          rss.raw.push(r.rssPerTopic)
          return r.msPerTopic
        }
      },
      opts.only
    )
    const all = (key: 'everyTopicFlushed' | 'sawEveryState' | 'watchedSawEveryState'): boolean | 'not run' =>
      seen.length === 0 ? 'not run' : seen.every((s) => s[key])
    return {
      scenario: 'topics',
      title: `Topics at scale: ${count} topics on one networker`,
      smoke,
      startedAt: startedAt.toISOString(),
      durationMs: now() - t0,
      params: {
        isolated: isolate,
        topics: count,
        rounds,
        watchedTopics: Math.min(WATCHED, count),
        dhtMaxWindow: window ?? 'dht-rpc default (80)'
      },
      metrics: [
        metric({ key: 'time', label: 'join all, then one flush, per topic', unit: 'ms', better: 'lower', ...time }),
        metric({ key: 'heap', label: 'heap per joined topic', unit: 'KiB', better: 'lower', ...heap }),
        metric({ key: 'rss', label: 'RSS per joined topic', unit: 'KiB', better: 'lower', ...rss })
      ],
      checks: {
        everyTopicFlushed: all('everyTopicFlushed'),
        emissionsPerRound: seen.length === 0 ? 'not run' : seen.map((s) => s.emissions).join(', '),
        expectedEmissionsPerRound: 1 + 2 * count,
        topicsSubscriberSawEveryState: all('sawEveryState'),
        watchedTopicsSawEveryState: all('watchedSawEveryState')
      },
      notes: [
        `Memory figures are process-wide deltas (after a full collection) from before the joins to the flush, divided by the topic count${isolate ? '; every trial runs in a fresh Node process on the same loopback network' : ''}.`,
        window === null
          ? 'The DHT nodes keep dht-rpc\'s default congestion window (80 requests per 750 ms tick), which paces both sides.'
          : `Both sides' DHT nodes get a congestion window of ${window} requests per tick instead of dht-rpc's 80, which would pace both at about 40 topics/s (reproduce that with --dht-window=default).`,
        'Ours looks an announcing topic that found nobody up again 50 ms after its first discovery, then at 1 s and 2 s and on a backoff while it has no peer, at most 16 lookups at a time over all topics: with no peer on any of these topics, those relookups run during and after the flush.'
      ]
    }
  } finally {
    await res.cleanup()
  }
}

export interface SeenChecks {
  everyTopicFlushed: boolean
  /** `topics$` emitted once per state change of every topic (none merged, none missing). */
  sawEveryState: boolean
  /** The watched topics' `topic$` showed not joined → joined → joined and flushed. */
  watchedSawEveryState: boolean
  emissions: number
}

export interface TopicsRun {
  msPerTopic: number
  heapPerTopic: number
  rssPerTopic: number
}

export type OursTopicsRun = TopicsRun & { seen: SeenChecks }

/** One run of ours (exported for `isolated`). `maxWindow` null: dht-rpc's default. */
export function oursTrial(net: LocalNetwork, count: number, maxWindow: number | null): Promise<OursTopicsRun> {
  return trial(async (res) => {
    const store = res.store()
    const networker = new ReactiveNetworker(store, { dht: await bootstrappedFirewalledNode(net, res, { maxWindow: maxWindow ?? undefined }) })
    res.defer(() => networker.close())
    await networker.listen()
    const keys = Array.from({ length: count }, () => randomTopic())
    // A topics$ subscriber doing O(1) work per emission, and a few per-topic watchers.
    let emissions = 0
    let latest: ReadonlyMap<string, TopicState> = new Map()
    const subscription = new Subscription()
    res.defer(() => subscription.unsubscribe())
    subscription.add(
      networker.topics$.subscribe((states) => {
        emissions++
        latest = states
      })
    )
    const watched = keys.slice(0, WATCHED).map((key) => {
      const states: string[] = []
      subscription.add(networker.topic$(key).subscribe((s) => states.push(!s.joined ? 'left' : s.flushed ? 'flushed' : 'joined')))
      return states
    })
    const before = memory()
    const start = now()
    await Promise.all(keys.map((key) => networker.configure(key, { announce: true, lookup: true, flush: false })))
    const flushed = (states: ReadonlyMap<string, TopicState>): boolean => {
      if (states.size !== count) return false
      for (const state of states.values()) if (!state.flushed) return false
      return true
    }
    await waitFor(networker.topics$, flushed, 120_000)
    const elapsed = now() - start
    const after = memory()
    return {
      msPerTopic: round(elapsed / count, 3),
      heapPerTopic: round((after.heapUsed - before.heapUsed) / 1024 / count, 2),
      rssPerTopic: round((after.rss - before.rss) / 1024 / count, 2),
      seen: {
        everyTopicFlushed: flushed(latest),
        sawEveryState: emissions === 1 + 2 * count,
        watchedSawEveryState: watched.every((states) => states.join(' ') === 'left joined flushed'),
        emissions
      }
    }
  })
}

/** One run of the bare stack (exported for `isolated`). */
export function rawTrial(net: LocalNetwork, count: number, maxWindow: number | null): Promise<TopicsRun> {
  return trial(async (res) => {
    const store = res.store()
    const swarm = new Hyperswarm({ dht: await bootstrappedFirewalledNode(net, res, { maxWindow: maxWindow ?? undefined }) })
    res.defer(() => swarm.destroy())
    swarm.on('connection', (conn: NoiseSecretStream) => {
      conn.on('error', () => {})
      store.replicate(conn)
    })
    await swarm.listen()
    const keys = Array.from({ length: count }, () => randomTopic())
    const before = memory()
    const start = now()
    const sessions = keys.map((key) => swarm.join(key, { server: true, client: true }))
    await Promise.all(sessions.map((session) => session.flushed()))
    await swarm.flush()
    const elapsed = now() - start
    const after = memory()
    return {
      msPerTopic: round(elapsed / count, 3),
      heapPerTopic: round((after.heapUsed - before.heapUsed) / 1024 / count, 2),
      rssPerTopic: round((after.rss - before.rss) / 1024 / count, 2)
    }
  })
}
