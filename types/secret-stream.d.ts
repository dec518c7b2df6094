declare module '@hyperswarm/secret-stream' {
  import { Duplex } from 'stream'

  /** The Noise-encrypted stream Hyperswarm hands out for every connection (only what we use). */
  class NoiseSecretStream extends Duplex {
    readonly isInitiator: boolean
    readonly publicKey: Buffer
    readonly remotePublicKey: Buffer
    readonly handshakeHash: Buffer | null
    readonly rawStream: { remoteHost?: string; remotePort?: number; packetsReceived?: number } | null
    readonly rawBytesRead: number
    readonly rawBytesWritten: number
    readonly opened: Promise<boolean>
    timeout: number
    keepAlive: number
    userData: unknown
    setTimeout(ms: number): void
    setKeepAlive(ms: number): void
    sendKeepAlive(): void
  }
  export = NoiseSecretStream
}
