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
