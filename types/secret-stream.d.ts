declare module '@hyperswarm/secret-stream' {
  import { Duplex } from 'stream'

  /** The Noise-encrypted stream Hyperswarm hands out for every connection (only what we use). */
  class NoiseSecretStream extends Duplex {
    /** Without `rawStream`, it makes an in-memory one (a Duplex) to pipe to another stream's. */
    constructor(isInitiator: boolean, rawStream?: Duplex | null, opts?: Record<string, unknown>)
    readonly isInitiator: boolean
    readonly publicKey: Buffer
    readonly remotePublicKey: Buffer
    readonly handshakeHash: Buffer | null
    readonly rawStream: { remoteHost?: string; remotePort?: number; packetsReceived?: number; rtt?: number } | null
    readonly rawBytesRead: number
    readonly rawBytesWritten: number
    readonly opened: Promise<boolean>
    /** streamx: true from the moment `destroy()` is called (`destroyed` turns true later). */
    readonly destroying: boolean
    timeout: number
    keepAlive: number
    userData: unknown
    setTimeout(ms: number): void
    setKeepAlive(ms: number): void
    sendKeepAlive(): void
  }
  export = NoiseSecretStream
}
