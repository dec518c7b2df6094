import {
  Observable,
  ReplaySubject,
  SchedulerLike,
  defer,
  finalize,
  map,
  share,
  takeUntil,
  timer
} from 'rxjs'
import { errors } from '../errors'
import type { PeerExtensionTraffic } from '../extensions'
import type { Peer } from '../peer'
import type { HypercoreLike } from '../stack-types'
import type { NetworkerPeerEvent } from '../streams'
import type { SwarmCounters } from '../swarm-source'
import { ReplicationMeter } from './cores'
import { PeerTallies } from './peers'
import { coreProgress$, isHypercore } from './progress'
import { SampleSources, takeSample } from './sample'
import type { CoreProgress, MetricsOptions, NetworkerMetrics } from './types'

export type {
  CoreMetrics,
  CoreProgress,
  DhtMetrics,
  ExtensionTraffic,
  MetricsOptions,
  NetworkerMetrics,
  PeerMetrics,
  ReplicationTraffic,
  SwarmMetrics,
  TransportMetrics
} from './types'
export { PROGRESS_THROTTLE_MS } from './progress'

/** `metrics$` samples every this many ms unless told otherwise. */
export const DEFAULT_METRICS_INTERVAL = 1000
/** The shortest `interval` `metrics$` accepts (ms). */
export const MIN_METRICS_INTERVAL = 100

/** What the metrics room reads, each through what its owner exposes. */
export interface MetricsSources {
  /** The Corestore (its open cores are read, and monitored while observed). */
  readonly store: unknown
  readonly scheduler: SchedulerLike
  readonly peerEvents$: Observable<NetworkerPeerEvent>
  readonly extensions: { trafficWith(peer: Peer): readonly PeerExtensionTraffic[] }
  readonly connections: { readonly handshakeTimeouts: number; readonly refusedOverMaxPeers: number }
  readonly swarm: () => SwarmCounters | null
  readonly joinedTopics: () => ReadonlySet<string>
}

/**
 * The metrics room: samples what the other rooms expose (peers and their connections, extension
 * lanes, the swarm and its DHT node, the store's cores) into frozen snapshots, and follows one
 * core's replication progress.
 *
 * What it holds while nobody observes: a tally per connected peer (kept from `peerEvents$`: when
 * it came, its swaps, its counters across swaps), no timer and no listener. Blocks are counted
 * (a monitor on each open core, a watcher on the store) only while a `metrics$` stream has a
 * subscriber.
 */
export class Metrics {
  private readonly sources: SampleSources
  private readonly scheduler: SchedulerLike
  private readonly tallies: PeerTallies
  private readonly meter: ReplicationMeter
  /** The shared stream of each interval that has subscribers. */
  private readonly streams = new Map<number, Observable<NetworkerMetrics>>()
  private readonly closed$ = new ReplaySubject<void>(1)
  /** Subscribed `metrics$` streams (one per interval): blocks are counted while there is one. */
  private observed = 0
  /** The latest sample any stream or `snapshot()` took. */
  private latest: NetworkerMetrics | null = null
  /** True from taking `latest` to the end of that turn (its emission): nothing has changed since. */
  private fresh = false

  constructor(sources: MetricsSources) {
    const now = (): number => sources.scheduler.now()
    this.scheduler = sources.scheduler
    this.tallies = new PeerTallies(sources.peerEvents$, now)
    this.meter = new ReplicationMeter(sources.store, (key, down, bytes) => this.tallies.countBlock(key, down, bytes))
    this.sources = {
      now,
      tallies: this.tallies,
      meter: this.meter,
      extensions: sources.extensions,
      connections: sources.connections,
      swarm: sources.swarm,
      joinedTopics: sources.joinedTopics
    }
  }

  /** See `ReactiveNetworker.metrics$`. */
  metrics$(opts?: MetricsOptions): Observable<NetworkerMetrics> {
    const interval = intervalOf(opts)
    return defer(() => this.shared(interval)).pipe(takeUntil(this.closed$))
  }

  /**
   * See `ReactiveNetworker.metrics`: the latest sample while it is being emitted (in a `metrics$`
   * subscriber's callback) or when it was taken this millisecond, else a new one.
   */
  snapshot(): NetworkerMetrics {
    const latest = this.latest
    if (latest !== null && (this.fresh || latest.at === this.scheduler.now())) return latest
    return this.sample(latest)
  }

  /** See `ReactiveNetworker.progress$`. */
  progress$(core: HypercoreLike): Observable<CoreProgress> {
    if (!isHypercore(core)) {
      throw errors.invalidOption('core', 'a Hypercore session (length, contiguousLength, peers, on, removeListener)', core)
    }
    return coreProgress$(core, this.scheduler).pipe(takeUntil(this.closed$))
  }

  /** Completes every stream and lets go of every peer tally and core monitor. */
  close(): void {
    this.closed$.next()
    this.closed$.complete()
    this.meter.stop()
    this.tallies.close()
  }

  private sample(previous: NetworkerMetrics | null): NetworkerMetrics {
    const sample = takeSample(this.sources, previous)
    this.latest = sample
    if (!this.fresh) {
      this.fresh = true
      queueMicrotask(() => (this.fresh = false))
    }
    return sample
  }

  /**
   * The one stream of an interval: a sample at once and then every `interval` ms, measuring its
   * rates from its own previous sample, replaying the latest to a subscriber that joins. Made on
   * the first subscription, torn down (timer, core monitors) when the last one leaves.
   */
  private shared(interval: number): Observable<NetworkerMetrics> {
    let stream = this.streams.get(interval)
    if (stream === undefined) {
      stream = defer(() => {
        this.observe()
        let previous: NetworkerMetrics | null = null
        return timer(0, interval, this.scheduler).pipe(
          map(() => (previous = this.sample(previous))),
          finalize(() => this.release())
        )
      }).pipe(
        finalize(() => this.streams.delete(interval)),
        share({ connector: () => new ReplaySubject<NetworkerMetrics>(1), resetOnError: true, resetOnComplete: true, resetOnRefCountZero: true })
      )
      this.streams.set(interval, stream)
    }
    return stream
  }

  private observe(): void {
    if (this.observed++ === 0) this.meter.start()
  }

  private release(): void {
    if (--this.observed === 0) this.meter.stop()
  }
}

function intervalOf(opts: MetricsOptions | undefined): number {
  if (opts === undefined) return DEFAULT_METRICS_INTERVAL
  if (opts === null || typeof opts !== 'object') throw errors.invalidOption('opts', 'an object', opts)
  const { interval } = opts
  if (interval === undefined) return DEFAULT_METRICS_INTERVAL
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < MIN_METRICS_INTERVAL) {
    throw errors.invalidOption('interval', `a finite number of ms, at least ${MIN_METRICS_INTERVAL}`, interval)
  }
  return interval
}
