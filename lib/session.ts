import type Corestore from 'corestore'
import type { Connections } from './connections'
import { NetworkerError, errors } from './errors'
import type { KeyPairLoader } from './key-pair'
import { toHex } from './keys'
import type { NetworkerOptions } from './options'
import type { KeyPairLike, SwarmLike } from './stack-types'
import { SwarmSource, createSwarmSource } from './swarm-source'

/** What opening a networker needs: its options, its key pair and the connection pipeline. */
export interface SessionOptions {
  readonly opts: NetworkerOptions
  readonly keyPair: KeyPairLike
  readonly connections: Connections
  readonly onerror: (err: NetworkerError) => void
}

/**
 * What `listen()` (or the first `configure()`) opens, once: the swarm, with the connection
 * pipeline attached to its raw connections. Everything in it exists from its first moment; the
 * topics reach the swarm through `source`.
 */
export class Session {
  /** The swarm's commands and streams (the only way to Hyperswarm). */
  readonly source: SwarmSource

  constructor({ opts, keyPair, connections, onerror }: SessionOptions) {
    const { dht, bootstrap, maxPeers, maxClientConnections, maxServerConnections, maxParallel } = opts
    this.source = createSwarmSource({
      keyPair,
      dht,
      bootstrap,
      maxPeers,
      maxClientConnections,
      maxServerConnections,
      maxParallel,
      firewall: connections.firewall(),
      onerror: (err, conn) => onerror(errors.connection(toHex(conn.remotePublicKey), err)),
      pending: () => connections.pending
    })
    connections.attach(this.source)
  }

  /**
   * Opens a session once the store is ready and the key pair derived; rejects with `ERR_CLOSED`
   * if `closing()` turned true meanwhile.
   */
  static async open(
    store: Corestore,
    keyPair: KeyPairLoader,
    closing: () => boolean,
    options: Omit<SessionOptions, 'keyPair'>
  ): Promise<Session> {
    await store.ready()
    const pair = await keyPair.load()
    if (closing()) throw errors.closed('listen')
    return new Session({ ...options, keyPair: pair })
  }

  /** Our Noise public key. */
  get publicKey(): Buffer {
    return this.source.publicKey
  }

  /** The Hyperswarm itself, for the legacy `swarm` member. */
  get swarm(): SwarmLike {
    return this.source.swarm
  }

  /** Starts accepting connections. */
  listen(): Promise<void> {
    return this.source.listen()
  }

  /** Destroys every connection (remote peers see us leave at once), the swarm and its DHT node. */
  destroy(): Promise<void> {
    return this.source.destroy()
  }
}
