declare module 'hyperswarm' {
  import { EventEmitter } from 'events'
  import HyperDHT from 'hyperdht'
  import NoiseSecretStream from '@hyperswarm/secret-stream'

  namespace Hyperswarm {
    interface SwarmOptions {
      keyPair?: HyperDHT.KeyPair
      seed?: Buffer
      dht?: HyperDHT
      bootstrap?: Array<string | HyperDHT.BootstrapNode>
      maxPeers?: number
      maxClientConnections?: number
      maxServerConnections?: number
      maxParallel?: number
      firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
      backoffs?: number[]
      jitter?: number
    }
    interface PeerInfo {
      publicKey: Buffer
      topics: Buffer[]
      client: boolean
      banned: boolean
      ban(value: boolean): void
    }
    interface JoinOptions {
      server?: boolean
      client?: boolean
      limit?: number
    }
    interface PeerDiscoverySession {
      readonly isClient: boolean
      readonly isServer: boolean
      refresh(opts?: JoinOptions): Promise<void>
      flushed(): Promise<void>
      destroy(): Promise<void>
    }
  }

  class Hyperswarm extends EventEmitter {
    constructor(opts?: Hyperswarm.SwarmOptions)
    readonly keyPair: HyperDHT.KeyPair
    readonly dht: HyperDHT
    readonly destroyed: boolean
    readonly connecting: number
    readonly connections: Set<NoiseSecretStream>
    readonly peers: Map<string, Hyperswarm.PeerInfo>
    listen(): Promise<void>
    join(topic: Buffer, opts?: Hyperswarm.JoinOptions): Hyperswarm.PeerDiscoverySession
    leave(topic: Buffer): Promise<void>
    flush(): Promise<boolean>
    destroy(opts?: { force?: boolean }): Promise<void>
    on(event: 'connection', listener: (conn: NoiseSecretStream, info: Hyperswarm.PeerInfo) => void): this
    on(event: 'update', listener: () => void): this
    on(event: string, listener: (...args: unknown[]) => void): this
  }
  export = Hyperswarm
}
