/**
 * What this library needs of the objects a caller hands it, described structurally. Corestore,
 * Hyperswarm and HyperDHT ship no TypeScript types; these interfaces name only the members we
 * call, so any declaration a user writes for those packages (or none: `any`) fits, and ours never
 * replace theirs.
 */

/** A Noise key pair (32-byte public key, 64-byte secret key). */
export interface KeyPairLike {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

/**
 * A Corestore 7 instance, as the networker uses it: `replicate` every connection, derive the
 * default key pair, and keep remembered configurations in a private namespace.
 */
export interface CorestoreLike {
  ready(): Promise<unknown>
  replicate(stream: unknown): unknown
  createKeyPair(name: string): Promise<KeyPairLike>
  namespace(name: string): unknown
}

/**
 * A HyperDHT node (`new HyperDHT(...)`, or `createLocalNetwork().swarmOptions().dht`). The
 * networker hands it to Hyperswarm and destroys it on close.
 */
export interface DhtNodeLike {
  destroy(opts?: { force?: boolean }): Promise<unknown>
}

/**
 * The Hyperswarm 4 instance behind a networker (`networker.swarm` on the legacy facade), described
 * by the members callers read. It is Hyperswarm 4, not the hyperswarm 2 of `@corestore/networker`
 * 1.x: `connections` holds Noise secret streams, and `flush()` returns a promise.
 */
export interface SwarmLike {
  readonly keyPair: KeyPairLike
  /** Open connections (Noise secret streams), duplicates included until Hyperswarm resolves them. */
  readonly connections: ReadonlySet<unknown>
  /** Connections being opened. */
  readonly connecting: number
  /** Peers Hyperswarm knows of (discovered, connected or not), by hex public key. */
  readonly peers: ReadonlyMap<string, unknown>
  readonly destroyed: boolean
  /** Resolves once every peer discovered so far has connected or failed. */
  flush(): Promise<unknown>
}

/**
 * A Hypercore 11 session (`store.get(...)`), as `progress$` reads it: its lengths, its
 * replication peers (Hypercore's own peer objects, read structurally) and its events.
 */
export interface HypercoreLike {
  readonly length: number
  readonly contiguousLength: number
  readonly peers: ReadonlyArray<object>
  readonly closed: boolean
  on(event: string, listener: (...args: unknown[]) => void): unknown
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown
}
