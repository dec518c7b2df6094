/**
 * `@basestore/networker/prometheus` (Node only): puts a networker's metrics on a `prom-client`
 * registry the caller passes. Holepunch's own modules measure what they already measure
 * (`hyperswarm-stats` with `hyperdht-stats`: the `hyperswarm_*` and `dht_*` series;
 * `hypercore-stats`: the `hypercore_*` series); the `basestore_networker_*` series are read from
 * `networker.metrics()` and `networker.topics`, so a scrape shows the numbers `metrics$` shows
 * at the same instant. Nothing else in the package imports this module, so `.` never loads
 * `prom-client` (an optional peer dependency) or the stats modules.
 */
import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import HyperswarmStats from 'hyperswarm-stats'
import HypercoreStats from 'hypercore-stats'
import PassiveCoreWatcher from 'passive-core-watcher'
import type { Observable, Subscription } from 'rxjs'
import { errors } from './errors'
import type { NetworkerMetrics } from './metrics'
import type { NetworkerState } from './options'
import type { SwarmLike } from './stack-types'
import type { TopicState } from '../operators/types'

/**
 * The members of a `prom-client` `Registry` this entry uses (a `new Registry()` or
 * `register`, the default one), described structurally.
 */
export interface RegistryLike {
  registerMetric(metric: never): void
  removeSingleMetric(name: string): void
  getSingleMetric(name: string): unknown
  metrics(): Promise<string>
}

/** What this entry reads of a networker: a `ReactiveNetworker` has every member. */
export interface PrometheusSource {
  metrics(): NetworkerMetrics
  readonly topics: ReadonlyMap<string, TopicState>
  readonly hyperswarm: SwarmLike | null
  readonly state$: Observable<NetworkerState>
}

/** Options of `registerPrometheus`. */
export interface PrometheusOptions {
  /**
   * The Corestore the networker replicates: with it, `hypercore-stats` adds the `hypercore_*`
   * series (totals over the store's open cores, read through weak sessions).
   */
  readonly store?: unknown
}

/** What `registerPrometheus` returns. */
export interface PrometheusRegistration {
  /** The names of the series registered so far (the swarm's are added when the networker listens). */
  readonly names: readonly string[]
  /**
   * Removes every registered series from the registry and lets go of the networker, the swarm
   * and the store. Idempotent; done by itself when the networker starts closing.
   */
  stop(): void
}

/** The prefix of the series this package measures itself. */
export const PROMETHEUS_PREFIX = 'basestore_networker_'

/** How many hex characters of a remote public key label a peer's series. */
export const PEER_LABEL_HEX_CHARS = 16

const REGISTRY_MEMBERS = ['registerMetric', 'removeSingleMetric', 'getSingleMetric', 'metrics'] as const

function isRegistry(value: unknown): value is RegistryLike {
  if (typeof value !== 'object' || value === null) return false
  const members = value as Record<string, unknown>
  return REGISTRY_MEMBERS.every((name) => typeof members[name] === 'function')
}

function isSource(value: unknown): value is PrometheusSource {
  if (typeof value !== 'object' || value === null) return false
  const members = value as Record<string, unknown>
  return typeof members['metrics'] === 'function' && members['topics'] instanceof Map && typeof members['state$'] === 'object'
}

function isStore(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const members = value as Record<string, unknown>
  return typeof members['watch'] === 'function' && typeof members['unwatch'] === 'function' && typeof members['cores'] === 'object'
}

/** A peer's label: the first 16 hex characters of its remote public key. */
export function peerLabel(remotePublicKey: string): string {
  return remotePublicKey.slice(0, PEER_LABEL_HEX_CHARS)
}

type Read = (m: NetworkerMetrics) => number

/**
 * Registers the networker's metrics on `registry` (a `prom-client` 15 `Registry`):
 * - `basestore_networker_*`, read from `networker.metrics()` at each scrape (one sample per
 *   scrape): peers, connections, connecting, queued, connects attempted/opened/closed, handshake
 *   timeouts, refusals over `maxPeers`, swaps, topics joined and flushed; per peer (label
 *   `peer`: the first 16 hex characters of its remote key; at most `maxPeers` peers, the series
 *   of a peer that left are dropped) bytes received and sent and the round-trip time; per
 *   extension (label `extension`) messages sent, resent, received and dropped, queued and in
 *   flight, summed over the connected peers;
 * - `hyperswarm_*` and `dht_*` from `hyperswarm-stats` (registered once the networker listens:
 *   there is no swarm before);
 * - `hypercore_*` from `hypercore-stats`, with `opts.store`.
 *
 * A registry that is not one, or that already holds a networker's series: `ERR_INVALID_OPTION`.
 * Everything is removed from the registry when the networker starts closing, or on `stop()`.
 */
export function registerPrometheus(
  networker: PrometheusSource,
  registry: RegistryLike,
  opts: PrometheusOptions = {}
): PrometheusRegistration {
  if (!isSource(networker)) throw errors.invalidOption('networker', 'a ReactiveNetworker', networker)
  if (!isRegistry(registry)) {
    throw errors.invalidOption('registry', `a prom-client Registry (with ${REGISTRY_MEMBERS.join(', ')})`, registry)
  }
  if (registry.getSingleMetric(`${PROMETHEUS_PREFIX}peers`) !== undefined) {
    throw errors.invalidOption('registry', 'a registry without the series of another networker (one registry per networker)', registry)
  }
  const store = opts.store
  if (store !== undefined && !isStore(store)) throw errors.invalidOption('store', 'a Corestore', store)

  const registers = [registry as unknown as Registry]
  const names: string[] = []
  let stopped = false
  let watcher: PassiveCoreWatcher | null = null
  let state: Subscription | null = null

  /** The sample of this scrape: every collect of one scrape runs in the same turn, and reads the same one. */
  const sample = (): NetworkerMetrics | null => {
    if (stopped) return null
    try {
      return networker.metrics()
    } catch {
      return null // a scrape racing close(): the series keep their last values
    }
  }

  /** prom-client for the stats modules: every gauge they create goes on the caller's registry. */
  class RegistryGauge extends Gauge {
    constructor(config: ConstructorParameters<typeof Gauge>[0]) {
      super({ ...config, registers })
      names.push(config.name)
    }
  }
  const promClient = { Gauge: RegistryGauge }

  const gauge = (name: string, help: string, read: Read): void => {
    names.push(PROMETHEUS_PREFIX + name)
    new Gauge({
      name: PROMETHEUS_PREFIX + name,
      help,
      registers,
      collect() {
        const m = sample()
        if (m !== null) this.set(read(m))
      }
    })
  }
  const counter = (name: string, help: string, read: Read): void => {
    names.push(PROMETHEUS_PREFIX + name)
    new Counter({
      name: PROMETHEUS_PREFIX + name,
      help,
      registers,
      collect() {
        const m = sample()
        if (m === null) return
        this.reset()
        this.inc(read(m))
      }
    })
  }
  const topicCount = (name: string, help: string, has: (t: TopicState) => boolean): void => {
    names.push(PROMETHEUS_PREFIX + name)
    new Gauge({
      name: PROMETHEUS_PREFIX + name,
      help,
      registers,
      collect() {
        if (stopped) return
        let n = 0
        for (const topic of networker.topics.values()) if (has(topic)) n++
        this.set(n)
      }
    })
  }
  const perPeer = (name: string, help: string, kind: 'counter' | 'gauge', read: (p: NetworkerMetrics['peers'][string]) => number | null): void => {
    names.push(PROMETHEUS_PREFIX + name)
    const config = { name: PROMETHEUS_PREFIX + name, help, labelNames: ['peer'] as const, registers }
    const fill = (metric: Counter<'peer'> | Gauge<'peer'>): void => {
      const m = sample()
      if (m === null) return
      metric.reset()
      for (const peer of Object.values(m.peers)) {
        const value = read(peer)
        if (value === null) continue
        if (metric instanceof Counter) metric.inc({ peer: peerLabel(peer.remotePublicKey) }, value)
        else metric.set({ peer: peerLabel(peer.remotePublicKey) }, value)
      }
    }
    if (kind === 'counter') new Counter({ ...config, collect() { fill(this) } })
    else new Gauge({ ...config, collect() { fill(this) } })
  }
  const perExtension = (name: string, help: string, labelNames: readonly string[], fill: (metric: Gauge, m: NetworkerMetrics) => void): void => {
    names.push(PROMETHEUS_PREFIX + name)
    new Gauge({
      name: PROMETHEUS_PREFIX + name,
      help,
      labelNames,
      registers,
      collect() {
        const m = sample()
        if (m === null) return
        this.reset()
        fill(this, m)
      }
    })
  }

  gauge('peers', 'Connected peers (one per remote key)', (m) => m.swarm.peers)
  gauge('connections', 'Open connections, duplicates Hyperswarm has not resolved yet included', (m) => m.swarm.connections)
  gauge('connecting', 'Connections being opened, pending admission included', (m) => m.swarm.connecting)
  gauge('queued', 'Peers found and waiting for a dial slot', (m) => m.swarm.queued)
  counter('connections_attempted_total', 'Connections this side dialled', (m) => m.swarm.attempted)
  counter('connections_opened_total', 'Connections opened, dialled and accepted', (m) => m.swarm.opened)
  counter('connections_closed_total', 'Connections closed, dialled and accepted', (m) => m.swarm.closed)
  counter('handshake_timeouts_total', 'Connections dropped because the remote did not answer within the handshake budget', (m) => m.swarm.handshakeTimeouts)
  counter('refused_over_max_peers_total', 'Connections refused as they opened because every maxPeers slot was held', (m) => m.swarm.refusedOverMaxPeers)
  counter('swaps_total', 'Deduplicated connection swaps (a peer moved to a replacement connection)', (m) => m.swarm.swaps)
  topicCount('topics_joined', 'Topics (discovery keys) joined', (t) => t.joined)
  topicCount('topics_flushed', 'Topics whose discovery has flushed', (t) => t.flushed)
  perPeer('peer_bytes_received_total', 'Bytes received from a peer since it was added, across swaps', 'counter', (p) => p.bytesIn)
  perPeer('peer_bytes_sent_total', 'Bytes sent to a peer since it was added, across swaps', 'counter', (p) => p.bytesOut)
  perPeer('peer_rtt_seconds', 'Smoothed round-trip time of the connection to a peer', 'gauge', (p) => (p.transport === null ? null : p.transport.rtt / 1000))
  perExtension(
    'extension_messages',
    'Extension messages with the connected peers, by extension and kind (sent, resent, received, dropped)',
    ['extension', 'kind'],
    (metric, m) => {
      const sums = new Map<string, { sent: number; resent: number; received: number; dropped: number }>()
      for (const peer of Object.values(m.peers)) {
        for (const [extension, t] of Object.entries(peer.extensions)) {
          const sum = sums.get(extension) ?? { sent: 0, resent: 0, received: 0, dropped: 0 }
          sum.sent += t.sent
          sum.resent += t.resent
          sum.received += t.received
          sum.dropped += t.dropped
          sums.set(extension, sum)
        }
      }
      for (const [extension, sum] of sums) {
        for (const kind of ['sent', 'resent', 'received', 'dropped'] as const) metric.set({ extension, kind }, sum[kind])
      }
    }
  )
  perExtension('extension_pending', 'Extension messages accepted and not acknowledged, by extension and state (queued, in_flight)', ['extension', 'state'], (metric, m) => {
    const sums = new Map<string, { queued: number; in_flight: number }>()
    for (const peer of Object.values(m.peers)) {
      for (const [extension, t] of Object.entries(peer.extensions)) {
        const sum = sums.get(extension) ?? { queued: 0, in_flight: 0 }
        sum.queued += t.queued
        sum.in_flight += t.inFlight
        sums.set(extension, sum)
      }
    }
    for (const [extension, sum] of sums) {
      metric.set({ extension, state: 'queued' }, sum.queued)
      metric.set({ extension, state: 'in_flight' }, sum.in_flight)
    }
  })

  if (store !== undefined) {
    // HypercoreStats.fromCorestore, but with a watcher this registration can destroy on stop.
    const cores = new HypercoreStats()
    watcher = new PassiveCoreWatcher(store, { watch: () => true, open: (session) => cores.addCore(session) })
    watcher.on('oncoreopen-error', () => {}) // a core that closed while being opened: nothing to count
    cores.registerPrometheusMetrics(promClient)
  }

  let swarmRegistered = false
  const stop = (): void => {
    if (stopped) return
    stopped = true
    state?.unsubscribe()
    watcher?.destroy()
    watcher = null
    for (const name of names) registry.removeSingleMetric(name)
  }
  state = networker.state$.subscribe((now) => {
    if (now === 'closing' || now === 'closed') return stop()
    const swarm = networker.hyperswarm
    if (now !== 'listening' || swarm === null || swarmRegistered || stopped) return
    swarmRegistered = true
    try {
      new HyperswarmStats(swarm).registerPrometheusMetrics(promClient)
    } catch {
      // Another swarm's hyperswarm_* series are on this registry already: ours stay off it.
    }
  })
  if (stopped) state.unsubscribe()

  return {
    get names() {
      return [...names]
    },
    stop
  }
}
