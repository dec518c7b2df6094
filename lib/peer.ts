import type NoiseSecretStream from '@hyperswarm/secret-stream'

/**
 * One remote peer, for as long as it stays connected. A deduplicated connection swap keeps the
 * object and replaces `stream` and `remoteAddress`.
 */
export interface Peer {
  /** The remote's Noise public key. */
  readonly remotePublicKey: Buffer
  /** `host:port` of the current connection. */
  readonly remoteAddress: string
  /** The transport: always `'udx'` on Hyperswarm. */
  readonly type: 'udx'
  /** The current Noise secret stream (replication and extensions run on it). */
  readonly stream: NoiseSecretStream
}

/** The mutable record behind a `Peer`; only the networker writes it. */
export class PeerRecord implements Peer {
  readonly type = 'udx' as const
  remoteAddress: string
  stream: NoiseSecretStream

  constructor(
    readonly remotePublicKey: Buffer,
    stream: NoiseSecretStream
  ) {
    this.stream = stream
    this.remoteAddress = addressOf(stream)
  }

  /** Moves the peer onto a replacement connection. */
  swapTo(stream: NoiseSecretStream): void {
    this.stream = stream
    this.remoteAddress = addressOf(stream)
  }
}

function addressOf(stream: NoiseSecretStream): string {
  const raw = stream.rawStream
  return raw && raw.remoteHost ? `${raw.remoteHost}:${raw.remotePort ?? 0}` : 'unknown:0'
}
