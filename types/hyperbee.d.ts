declare module 'hyperbee' {
  import Corestore from 'corestore'

  namespace Hyperbee {
    interface Entry<V> {
      seq: number
      key: string
      value: V
    }
  }

  class Hyperbee<V = unknown> {
    constructor(core: Corestore.Hypercore, opts?: { keyEncoding?: string; valueEncoding?: string })
    ready(): Promise<void>
    get(key: string): Promise<Hyperbee.Entry<V> | null>
    put(key: string, value: V): Promise<void>
    del(key: string): Promise<void>
    createReadStream(range?: object): AsyncIterable<Hyperbee.Entry<V>>
    close(): Promise<void>
  }
  export = Hyperbee
}
