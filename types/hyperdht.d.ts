declare module 'hyperdht' {
  import { EventEmitter } from 'events'

  namespace HyperDHT {
    interface KeyPair {
      publicKey: Buffer
      secretKey: Buffer
    }
    interface BootstrapNode {
      host: string
      port: number
    }
    interface DHTOptions {
      bootstrap?: Array<string | BootstrapNode>
      host?: string
      port?: number
      ephemeral?: boolean
      firewalled?: boolean
      keyPair?: KeyPair
    }
  }

  class HyperDHT extends EventEmitter {
    constructor(opts?: HyperDHT.DHTOptions)
    readonly destroyed: boolean
    readonly bootstrapped: boolean
    fullyBootstrapped(): Promise<void>
    address(): { host: string; port: number }
    destroy(opts?: { force?: boolean }): Promise<void>
    static keyPair(seed?: Buffer): HyperDHT.KeyPair
  }
  export = HyperDHT
}

declare module 'hyperdht/testnet.js' {
  import HyperDHT from 'hyperdht'

  namespace createTestnet {
    interface Testnet {
      nodes: HyperDHT[]
      bootstrap: HyperDHT.BootstrapNode[]
      createNode(opts?: HyperDHT.DHTOptions): HyperDHT
      destroy(): Promise<void>
    }
  }
  function createTestnet(
    size?: number,
    opts?: { host?: string; port?: number; bootstrap?: HyperDHT.BootstrapNode[] }
  ): Promise<createTestnet.Testnet>
  export = createTestnet
}
