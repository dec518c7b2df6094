/**
 * The connection a `Peer` currently rides on: Hyperswarm's Noise secret stream
 * (`@hyperswarm/secret-stream`), described by the members this library's users read. The
 * runtime object is the whole Node Duplex; cast it to your own type to reach more of it.
 * Browser-safe: no Node types.
 */
export interface PeerStream {
  /** Our Noise public key on this connection. */
  readonly publicKey: Uint8Array
  /** The remote's Noise public key. */
  readonly remotePublicKey: Uint8Array
  /** True on the side that dialled. */
  readonly isInitiator: boolean
  /** Encrypted bytes received and sent on the connection (absent on test stand-ins). */
  readonly rawBytesRead?: number
  readonly rawBytesWritten?: number
  readonly destroyed?: boolean
  /** Closes the connection (the networker sees the peer leave, or a replacement arrive). */
  destroy(error?: Error): void
  /** Node stream events (`'close'`, `'error'`, `'data'`, …). */
  on(event: string, listener: (...args: never[]) => void): unknown
  once(event: string, listener: (...args: never[]) => void): unknown
}

/**
 * One remote peer, for as long as it stays connected. A deduplicated connection swap keeps the
 * object and replaces `stream` and `remoteAddress`.
 *
 * Keys are typed `Uint8Array` so this type is the same in Node and the browser; in Node they
 * are Buffers at runtime.
 */
export interface Peer {
  /** The remote's Noise public key (32 bytes). */
  readonly remotePublicKey: Uint8Array
  /** `host:port` of the current connection. */
  readonly remoteAddress: string
  /** The transport: always `'udx'` on Hyperswarm. */
  readonly type: 'udx'
  /** The current Noise secret stream (replication and extensions run on it). */
  readonly stream: PeerStream
}
