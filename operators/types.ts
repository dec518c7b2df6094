/**
 * The minimal shape of a connection the pure operators need: the two Noise keys and which side
 * dialled. Hyperswarm's `NoiseSecretStream` satisfies it; marble tests use plain objects.
 */
export interface ConnectionLike {
  readonly publicKey: Uint8Array
  readonly remotePublicKey: Uint8Array
  readonly isInitiator: boolean
  /** Bytes read and written so far: a connection with both is established (the tie-break uses it). */
  readonly rawBytesRead?: number
  readonly rawBytesWritten?: number
}

/** A raw connection opening or closing, as the swarm reports it. */
export type ConnectionEvent<C extends ConnectionLike = ConnectionLike> =
  | { readonly type: 'open'; readonly connection: C }
  | { readonly type: 'close'; readonly connection: C }

/**
 * What `dedupeConnections` makes of the raw events, one remote key at a time.
 *
 * - `add`: the first connection to a key.
 * - `swap`: a connection replaced the key's previous one (a duplicate resolved, or a reconnect
 *   within the grace time); `previous` is the connection it replaced.
 * - `remove`: the key's connection closed and nothing replaced it within the grace time.
 * - `drop`: a second live connection to a key lost the tie-break; whoever owns the I/O should
 *   close it. Its later `close` is ignored.
 */
export type DedupeEvent<C extends ConnectionLike = ConnectionLike> =
  | { readonly type: 'add'; readonly key: string; readonly connection: C }
  | { readonly type: 'swap'; readonly key: string; readonly connection: C; readonly previous: C }
  | { readonly type: 'remove'; readonly key: string; readonly connection: C }
  | { readonly type: 'drop'; readonly key: string; readonly connection: C }

/** A change to the set of peers. `swap` keeps the member, with a new connection inside. */
export interface PeerEvent<P> {
  readonly type: 'add' | 'remove' | 'swap'
  readonly peer: P
}

/**
 * The discovery lifecycle of one topic, as `detectFlush` consumes it.
 *
 * - `start`: a join or refresh began (announce and/or lookup running).
 * - `discovered`: the announce/lookup finished; the peers it found are queued or dialling.
 * - `stop`: the topic was left.
 */
export interface DiscoverySignal {
  readonly type: 'start' | 'discovered' | 'stop'
}

/** A snapshot of the swarm's dialling work, taken on every Hyperswarm `'update'`. */
export interface SwarmProgress {
  /** Connections being dialled right now. */
  readonly connecting: number
  /** Peers found and waiting for a dial slot. */
  readonly queued: number
  /** True when the swarm is at its peer limit and will dial no more: queued peers never drain. */
  readonly saturated: boolean
}

/** The state of one topic, as `topics$`, `topic$()` and `configure()` report it. */
export interface TopicState {
  /** 32 bytes (a Buffer at runtime in Node). */
  readonly discoveryKey: Uint8Array
  readonly announce: boolean
  readonly lookup: boolean
  readonly joined: boolean
  readonly flushed: boolean
}

/** What `topicState` folds into a `TopicState`. */
export type TopicInput =
  | { readonly type: 'configure'; readonly announce: boolean; readonly lookup: boolean }
  | { readonly type: 'flushed'; readonly flushed: boolean }
