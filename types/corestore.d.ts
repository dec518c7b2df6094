declare module 'corestore' {
  import { EventEmitter } from 'events'
  import NoiseSecretStream from '@hyperswarm/secret-stream'

  namespace Corestore {
    interface KeyPair {
      publicKey: Buffer
      secretKey: Buffer
    }
    interface Hypercore extends EventEmitter {
      readonly key: Buffer | null
      readonly discoveryKey: Buffer | null
      readonly length: number
      readonly writable: boolean
      readonly closed: boolean
      ready(): Promise<void>
      append(block: Buffer | string | Array<Buffer | string>): Promise<{ length: number }>
      get(index: number, opts?: { wait?: boolean; timeout?: number }): Promise<Buffer | null>
      has(index: number): Promise<boolean>
      update(opts?: { wait?: boolean }): Promise<boolean>
      download(range?: { start?: number; end?: number }): { done(): Promise<void>; destroy(): void }
      close(): Promise<void>
      readonly contiguousLength: number
      /** The peers replicating this core (Hypercore's replication sessions). */
      readonly peers: ReadonlyArray<{ readonly remotePublicKey: Buffer }>
    }
    interface GetOptions {
      name?: string
      key?: Buffer | string
      /** Open the core stored with this discovery key (its session rejects if none is stored). */
      discoveryKey?: Buffer
      keyPair?: KeyPair
      exclusive?: boolean
      valueEncoding?: string
      active?: boolean
      cache?: boolean
      createIfMissing?: boolean
    }
  }

  class Corestore extends EventEmitter {
    constructor(storage: string, opts?: { primaryKey?: Buffer; writable?: boolean })
    readonly closed: boolean
    readonly closing: Promise<void> | null
    ready(): Promise<void>
    get(opts: Corestore.GetOptions | Buffer | string): Corestore.Hypercore
    namespace(name: string | Buffer): Corestore
    session(opts?: object): Corestore
    replicate(stream: NoiseSecretStream | boolean, opts?: object): NoiseSecretStream
    createKeyPair(name: string): Promise<Corestore.KeyPair>
    close(): Promise<void>
  }
  export = Corestore
}
