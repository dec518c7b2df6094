/**
 * A testing kit for code that consumes a networker's streams: a virtual networker with the same
 * observable surface as `ReactiveNetworker` (`NetworkerStreams`), driven by marble strings inside
 * `TestScheduler.run`, plus builders for `Peer` and `TopicState` values.
 *
 * ```ts
 * import { map } from 'rxjs'
 * import { TestScheduler } from 'rxjs/testing'
 * import type { NetworkerPeerEvent } from '@basestore/networker'
 * import { createVirtualNetworker, makePeer } from '@basestore/networker/testing'
 *
 * new TestScheduler((a, b) => expect(a).toEqual(b)).run((helpers) => {
 *   const alice = makePeer(1)
 *   const events: Record<string, NetworkerPeerEvent> = {
 *     a: { type: 'add', peer: alice },
 *     r: { type: 'remove', peer: alice }
 *   }
 *   const networker = createVirtualNetworker(helpers, { peerEvents: { marbles: '-a---r', values: events } })
 *   helpers.expectObservable(networker.peers$.pipe(map((p) => p.length))).toBe('0a---b', { 0: 0, a: 1, b: 0 })
 * })
 * ```
 */
import b4a from 'b4a'
import { NEVER, Observable, ReplaySubject, connectable, distinctUntilChanged, map, startWith } from 'rxjs'
import { peerSet } from '../operators/peerSet'
import { sameState } from '../operators/topicState'
import type { TopicState } from '../operators/types'
import type { NetworkerError } from './errors'
import type { NetworkerStreams } from './streams'
import type { Extension, ExtensionMessage } from './extension-types'
import { toDiscoveryKey, toHex } from './keys'
import type { Peer, PeerStream } from './peer'
import type { NetworkerPeerEvent } from './streams'

export type { NetworkerStreams } from './streams'

/**
 * What the virtual networker needs of the marble helpers: only a `hot` that turns a marble
 * string into an Observable. `TestScheduler.run`'s helpers (`RunHelpers`) fit, and so do
 * rxjs-marbles' and jest-marbles' contexts, without a cast (their `hot` returns a plain
 * Observable, not RxJS's internal `HotObservable`, so `Pick<RunHelpers, 'hot'>` would refuse them).
 */
export interface MarbleHelpers {
  hot<T = string>(marbles: string, values?: { [marble: string]: T }, error?: unknown): Observable<T>
}

/** A marble string and its values. */
export interface Marbles<T> {
  readonly marbles: string
  readonly values?: Record<string, T>
  readonly error?: unknown
}

/** What drives a virtual networker; every stream is a hot observable of the test scheduler. */
export interface VirtualNetworkerSpec {
  /** Peer add/remove/swap events; `peers$` is folded from them. */
  readonly peerEvents?: Marbles<NetworkerPeerEvent>
  /** Topic maps as `topics$` emits them; `topic$(key)` is derived. */
  readonly topics?: Marbles<ReadonlyMap<string, TopicState>>
  readonly errors?: Marbles<NetworkerError>
  /** Messages per extension name. */
  readonly messages?: Readonly<Record<string, Marbles<ExtensionMessage<unknown>>>>
}

/**
 * A networker made of hot marble streams. Like the real one, `peers$` and `topics$` hand a new
 * subscriber the current value first (the empty set and the empty map before any event), and
 * `topic$(key)` is distinct.
 */
export function createVirtualNetworker(helpers: MarbleHelpers, spec: VirtualNetworkerSpec = {}): NetworkerStreams {
  const hot = <T>(m: Marbles<T> | undefined): Observable<T> =>
    m === undefined ? NEVER : helpers.hot<T>(m.marbles, m.values, m.error)
  const peerEvents$ = hot(spec.peerEvents)
  // State is tracked from creation (frame 0), as a real networker tracks it from its start: a
  // subscriber that comes at 40 s sees the peers and topics of 40 s, not an empty start.
  const peers$ = tracked(peerEvents$.pipe(peerSet<Peer>()))
  const topics$ = tracked(
    hot(spec.topics).pipe(startWith(new Map<string, TopicState>() as ReadonlyMap<string, TopicState>))
  )
  const errors$ = hot(spec.errors)
  const messages = new Map<string, Observable<ExtensionMessage<unknown>>>()
  for (const [name, m] of Object.entries(spec.messages ?? {})) messages.set(name, hot(m))
  return {
    peers$,
    peerEvents$,
    topics$,
    errors$,
    topic$: (discoveryKey) => {
      const key = toDiscoveryKey(discoveryKey)
      const hex = toHex(key)
      return topics$.pipe(
        map((states) => states.get(hex) ?? makeTopicState(key)),
        distinctUntilChanged(sameState)
      )
    },
    messages$: <T>(extension: Extension<T>) =>
      (messages.get(extension.name) ?? NEVER) as Observable<ExtensionMessage<T>>
  }
}

/** Subscribes now and replays the latest value to every later subscriber. */
function tracked<T>(source: Observable<T>): Observable<T> {
  const replay = connectable(source, { connector: () => new ReplaySubject<T>(1), resetOnDisconnect: false })
  replay.connect()
  return replay
}

/**
 * A `Peer` value for tests: `id` fills the 32-byte key (a number is the byte repeated, a string
 * is 64 hex characters). Its `stream` is an inert stand-in for the connection: events never
 * fire and `destroy()` only marks it destroyed.
 */
export function makePeer(id: number | string, remoteAddress = '127.0.0.1:10000'): Peer {
  const remotePublicKey = typeof id === 'number' ? b4a.alloc(32, id) : toDiscoveryKey(id)
  return Object.freeze({ remotePublicKey, remoteAddress, type: 'udx' as const, stream: inertStream(remotePublicKey) })
}

function inertStream(remotePublicKey: Uint8Array): PeerStream {
  const stream = {
    publicKey: new Uint8Array(32),
    remotePublicKey,
    isInitiator: false,
    destroyed: false,
    destroy(): void {
      stream.destroyed = true
    },
    on: () => stream,
    once: () => stream
  }
  return stream
}

/** A `TopicState` for tests; `joined` follows from announce/lookup unless given. */
export function makeTopicState(
  discoveryKey: Uint8Array | string | number,
  fields: Partial<Omit<TopicState, 'discoveryKey'>> = {}
): TopicState {
  const key = typeof discoveryKey === 'number' ? b4a.alloc(32, discoveryKey) : toDiscoveryKey(discoveryKey)
  const announce = fields.announce ?? false
  const lookup = fields.lookup ?? false
  const joined = fields.joined ?? (announce || lookup)
  return Object.freeze({ discoveryKey: key, announce, lookup, joined, flushed: fields.flushed ?? false })
}

/** A `topics$` map from states. */
export function makeTopics(...states: TopicState[]): ReadonlyMap<string, TopicState> {
  return new Map(states.map((s) => [toHex(s.discoveryKey), s]))
}
