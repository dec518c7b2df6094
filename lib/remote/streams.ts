/**
 * `toRemoteStreams`: the remote view of a local networker's streams, in the shape
 * `connectNetworker` returns. The server publishes exactly this view, and a marble test of a
 * component written against `RemoteNetworkerStreams` can drive it from `createVirtualNetworker`
 * of `/testing`. Browser-safe: RxJS only.
 */
import { Observable, defer, distinctUntilChanged, map, throwError } from 'rxjs'
import type { CoreMetrics, CoreProgress, MetricsOptions, NetworkerMetrics } from '../metrics/types'
import {
  RemoteErrorCodes,
  bytesToHex,
  notJoinedState,
  remoteError,
  sameRemoteState,
  toHexKey,
  type RemoteCoreMetrics,
  type RemoteCoreProgress,
  type RemoteError,
  type RemoteMessage,
  type RemoteNetworkerMetrics,
  type RemoteNetworkerStreams,
  type RemotePeer,
  type RemotePeerEvent,
  type RemoteTopicState,
  type RemoteValue
} from './protocol'

/** A local peer as far as the remote view needs it (a `Peer` fits). */
export interface LocalPeerLike {
  readonly remotePublicKey: Uint8Array
  readonly remoteAddress: string
}

/** A local topic state (a `TopicState` fits). */
export interface LocalTopicStateLike {
  readonly discoveryKey: Uint8Array
  readonly announce: boolean
  readonly lookup: boolean
  readonly joined: boolean
  readonly flushed: boolean
}

/** A local error (a `NetworkerError` fits). */
export interface LocalErrorLike {
  readonly code: string
  readonly message: string
  readonly remoteKey?: string | null
}

/** An extension as far as the remote view needs it (an `Extension` fits). */
export interface ExtensionLike {
  readonly name: string
}

/**
 * The streams of a local networker that the remote view reads: `ReactiveNetworker` and the
 * virtual networker of `/testing` both fit.
 */
export interface LocalStreamsLike {
  readonly peers$: Observable<readonly LocalPeerLike[]>
  readonly peerEvents$: Observable<{ readonly type: 'add' | 'remove' | 'swap'; readonly peer: LocalPeerLike }>
  readonly topics$: Observable<ReadonlyMap<string, LocalTopicStateLike>>
  readonly errors$: Observable<LocalErrorLike>
  messages$(extension: ExtensionLike): Observable<{ readonly message: unknown; readonly peer: LocalPeerLike }>
  /** The networker's metrics (a `ReactiveNetworker` has them); without it `metrics$` errors with `ERR_NO_METRICS`. */
  metrics$?(opts?: MetricsOptions): Observable<NetworkerMetrics>
}

/** Options of {@link toRemoteStreams}. */
export interface RemoteStreamsOptions {
  /**
   * The extensions `messages$(name)` may read; any other name errors with
   * `ERR_UNKNOWN_EXTENSION`. Without it every name is read, through `{ name }` (enough for the
   * virtual networker; a `ReactiveNetworker` needs its `Extension` objects here).
   */
  readonly extensions?: ReadonlyArray<ExtensionLike>
  /**
   * The progress of the core with this discovery key (64 lowercase hex), or null if there is no
   * such core (then `progress$` errors with `ERR_UNKNOWN_CORE`). Called on each subscription.
   * Without it every `progress$` errors with `ERR_UNKNOWN_CORE`.
   */
  readonly progress?: (discoveryKey: string) => Observable<CoreProgress> | null
}

/**
 * The remote view of a local networker's streams: peers without `stream`, keys in hex, topic
 * states keyed by hex, messages by extension name with bytes as `Uint8Array`.
 *
 * 1. Every stream is the local one mapped: hot/cold and replay are the local stream's.
 * 2. A peer object is the same for a key as long as its address holds.
 * 3. `messages$(name)` of a name not in `extensions` (when given) errors with `ERR_UNKNOWN_EXTENSION`.
 * 4. `metrics$` samples carry no core `key` (a core's read capability); `progress$(discoveryKey)`
 *    is `opts.progress`'s stream, `ERR_UNKNOWN_CORE` without one.
 *
 * ## Example
 * ```ts
 * import { map } from 'rxjs'
 * import { TestScheduler } from 'rxjs/testing'
 * import { toRemoteStreams } from '@basestore/networker/remote'
 * import { createVirtualNetworker, makePeer } from '@basestore/networker/testing'
 * import type { NetworkerPeerEvent } from '@basestore/networker'
 *
 * new TestScheduler((a, b) => expect(a).toEqual(b)).run((helpers) => {
 *   const events: Record<string, NetworkerPeerEvent> = { a: { type: 'add', peer: makePeer(1) } }
 *   const remote = toRemoteStreams(createVirtualNetworker(helpers, { peerEvents: { marbles: '-a', values: events } }))
 *   helpers.expectObservable(remote.peers$.pipe(map((p) => p.length))).toBe('0a', { 0: 0, a: 1 })
 * })
 * ```
 */
export function toRemoteStreams(local: LocalStreamsLike, opts: RemoteStreamsOptions = {}): RemoteNetworkerStreams {
  const peers = new PeerInterner()
  const allowed = opts.extensions === undefined ? null : new Map(opts.extensions.map((ext) => [ext.name, ext]))
  const topics$ = local.topics$.pipe(map(toRemoteTopics))
  return {
    peers$: local.peers$.pipe(map((list) => peers.list(list))),
    peerEvents$: local.peerEvents$.pipe(
      map((event): RemotePeerEvent => {
        const peer = peers.of(event.peer)
        if (event.type === 'remove') peers.forget(peer.remotePublicKey)
        return Object.freeze({ type: event.type, peer })
      })
    ),
    topics$,
    errors$: local.errors$.pipe(map(toRemoteError)),
    topic$: (discoveryKey) => topicOf(topics$, discoveryKey),
    messages$: <T = RemoteValue>(name: string): Observable<RemoteMessage<T>> => {
      const extension = typeof name !== 'string' ? undefined : allowed === null ? { name } : allowed.get(name)
      if (extension === undefined) {
        return throwError(() => remoteError(RemoteErrorCodes.ERR_UNKNOWN_EXTENSION, `Extension "${name}" is not published`))
      }
      return local
        .messages$(extension)
        .pipe(
          map(({ message, peer }) => Object.freeze({ message: toRemoteValue(message) as T, peer: peers.of(peer) }))
        )
    },
    metrics$: (metricsOpts?: MetricsOptions): Observable<RemoteNetworkerMetrics> =>
      defer(() => {
        if (typeof local.metrics$ !== 'function') {
          return throwError(() => remoteError(RemoteErrorCodes.ERR_NO_METRICS, 'This networker has no metrics'))
        }
        return local.metrics$(metricsOpts).pipe(map(toRemoteMetrics))
      }),
    progress$: (discoveryKey: string | Uint8Array): Observable<RemoteCoreProgress> => {
      const hex = toHexKey(discoveryKey)
      return defer(() => {
        const stream = opts.progress === undefined ? null : opts.progress(hex)
        if (stream === null) {
          return throwError(() => remoteError(RemoteErrorCodes.ERR_UNKNOWN_CORE, `No core with discovery key ${hex.slice(0, 12)}… is open`))
        }
        return stream.pipe(map(toRemoteProgress))
      })
    }
  }
}

/** A metrics sample as the remote one: every core without its `key` (its read capability). */
export function toRemoteMetrics(sample: NetworkerMetrics): RemoteNetworkerMetrics {
  const cores: Record<string, RemoteCoreMetrics> = {}
  for (const [discoveryKey, core] of Object.entries(sample.cores)) cores[discoveryKey] = withoutKey(core)
  return Object.freeze({ ...sample, cores: Object.freeze(cores) })
}

function withoutKey(core: CoreMetrics): RemoteCoreMetrics {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { key, ...rest } = core
  return Object.freeze(rest)
}

/** A progress value as the remote one: the same fields, frozen. */
function toRemoteProgress(progress: CoreProgress): RemoteCoreProgress {
  return Object.freeze({
    length: progress.length,
    contiguousLength: progress.contiguousLength,
    remoteLength: progress.remoteLength,
    peers: progress.peers,
    progress: progress.progress,
    synced: progress.synced
  })
}

/** One topic of a remote topic map stream (not joined if absent), distinct. */
export function topicOf(
  topics$: Observable<ReadonlyMap<string, RemoteTopicState>>,
  discoveryKey: string | Uint8Array
): Observable<RemoteTopicState> {
  const hex = toHexKey(discoveryKey)
  return topics$.pipe(
    map((states) => states.get(hex) ?? notJoinedState(hex)),
    distinctUntilChanged(sameRemoteState)
  )
}

/** A local topic map as the remote one. */
export function toRemoteTopics(states: ReadonlyMap<string, LocalTopicStateLike>): ReadonlyMap<string, RemoteTopicState> {
  const out = new Map<string, RemoteTopicState>()
  for (const state of states.values()) {
    const remote = toRemoteTopicState(state)
    out.set(remote.discoveryKey, remote)
  }
  return out
}

/** A local topic state as the remote one. */
export function toRemoteTopicState(state: LocalTopicStateLike): RemoteTopicState {
  return Object.freeze({
    discoveryKey: bytesToHex(state.discoveryKey),
    announce: state.announce,
    lookup: state.lookup,
    joined: state.joined,
    flushed: state.flushed
  })
}

/** A local error as the remote one. */
export function toRemoteError(err: LocalErrorLike): RemoteError {
  return remoteError(String(err.code), String(err.message), err.remoteKey ?? null)
}

/** Bytes become a plain `Uint8Array` copy; anything else passes as it is. */
function toRemoteValue(message: unknown): unknown {
  return message instanceof Uint8Array ? new Uint8Array(message) : message
}

/** Keeps one frozen `RemotePeer` per key while its address holds. */
class PeerInterner {
  private readonly byKey = new Map<string, RemotePeer>()

  of(peer: LocalPeerLike): RemotePeer {
    const key = bytesToHex(peer.remotePublicKey)
    const known = this.byKey.get(key)
    if (known !== undefined && known.remoteAddress === peer.remoteAddress) return known
    const remote: RemotePeer = Object.freeze({ remotePublicKey: key, remoteAddress: peer.remoteAddress, type: 'udx' as const })
    this.byKey.set(key, remote)
    return remote
  }

  forget(key: string): void {
    this.byKey.delete(key)
  }

  /** A whole set: keys that left are forgotten. */
  list(list: readonly LocalPeerLike[]): readonly RemotePeer[] {
    const out = list.map((peer) => this.of(peer))
    if (this.byKey.size > out.length) {
      const keep = new Set(out.map((peer) => peer.remotePublicKey))
      for (const key of this.byKey.keys()) if (!keep.has(key)) this.byKey.delete(key)
    }
    return Object.freeze(out)
  }
}
