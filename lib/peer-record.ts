import type NoiseSecretStream from '@hyperswarm/secret-stream'
import type { Peer } from './peer'

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
