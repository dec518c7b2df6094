/// <reference path="../../types/index.d.ts" preserve="true" />
import Hyperswarm from 'hyperswarm'
import Protomux from 'protomux'
import type Corestore from 'corestore'
import type HyperDHT from 'hyperdht'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { BehaviorSubject, NEVER, Observable, Subject } from 'rxjs'
import { KEY_PAIR_NAME } from '../../lib/key-pair'
import type { Peer, PeerStream } from '../../lib/peer'
import type { ConnectionEvent } from '../../operators/types'
import type { NetworkerPeerEvent } from '../../lib/streams'

/** The probe channel: opened by both ends, it shows data crossed both ways. */
const PROBE = 'soak/bare-probe'

/** ms between the bare stack's lookups of its topic: the networker hosts' first look-again, their backoff, then every 2 s. */
const RELOOKUPS = [50, 500, 1000, 2000]

/** `HOST_BARE_KEEPALIVE` (ms): a keep-alive set on every connection (0: HyperDHT's own, 5 s). */
const KEEPALIVE = Number(process.env.HOST_BARE_KEEPALIVE ?? 0)

/**
 * What a soak host reads of its node: a `ReactiveNetworker`, or the bare stack below. Both say
 * when a connection opens and closes, and which connections are peers.
 */
export interface SoakNode {
  readonly connections$: Observable<ConnectionEvent<PeerStream>>
  readonly peers$: Observable<readonly Peer[]>
  readonly peerEvents$: Observable<NetworkerPeerEvent>
  readonly errors$: Observable<{ code: string; message: string }>
  loadKeyPair(): Promise<{ readonly publicKey: Uint8Array }>
  join(discoveryKey: Buffer): Promise<unknown>
  close(): Promise<void>
}

/**
 * The bare stack a soak compares the networker with: Hyperswarm 4 on the same DHT node and the
 * same store-derived key pair, replicating the store on every connection, with no time-out of
 * its own (UDX's and HyperDHT's keep-alive only) and no repair (Hyperswarm's own rules). A
 * connection counts as its remote's peer once a Protomux probe channel is open at both ends: the
 * networker's rule (data has crossed both ways), with the bare parts. Hyperswarm keeps one
 * connection per remote key: the newest open one is the peer's.
 */
export class BareNode implements SoakNode {
  private readonly raw = new Subject<ConnectionEvent<PeerStream>>()
  private readonly events = new Subject<NetworkerPeerEvent>()
  private readonly peers = new BehaviorSubject<readonly Peer[]>([])
  private readonly byKey = new Map<string, Peer>()
  private swarm: Hyperswarm | null = null
  private keyPair: Promise<Corestore.KeyPair> | null = null
  private relookup: NodeJS.Timeout | null = null

  readonly connections$ = this.raw.asObservable()
  readonly peers$ = this.peers.asObservable()
  readonly peerEvents$ = this.events.asObservable()
  readonly errors$: Observable<{ code: string; message: string }> = NEVER

  /**
   * @param maxPeers Hyperswarm's `maxPeers` (undefined: its default, 64). Hyperswarm 4 checks it
   *   only when it dials: inbound connections are not bounded, so a bare host can end above it.
   */
  constructor(
    private readonly store: Corestore,
    private readonly dht: HyperDHT,
    private readonly maxPeers?: number
  ) {}

  loadKeyPair(): Promise<Corestore.KeyPair> {
    this.keyPair ??= this.store.ready().then(() => this.store.createKeyPair(KEY_PAIR_NAME))
    return this.keyPair
  }

  async join(discoveryKey: Buffer): Promise<void> {
    const keyPair = await this.loadKeyPair()
    const swarm = (this.swarm ??= this.open(keyPair))
    const discovery = swarm.join(discoveryKey, { server: true, client: true })
    await discovery.flushed()
    // Hyperswarm alone looks a topic up again every 10 minutes: hosts that join at the same
    // instant miss each other's announces and never meet. The nudge a caller of the bare stack
    // would add: look again on the soak's backoff, then every 2 s while Hyperswarm knows of more
    // peers than are connected and the host has room for more (below `maxPeers`: a caller with a
    // bounded degree stops looking once it is full, else it would look every 2 s for ever).
    const room = (): boolean => this.byKey.size < (this.maxPeers ?? Infinity)
    const step = (i: number): void => {
      if (swarm.destroyed) return
      this.relookup = setTimeout(() => {
        if (i < RELOOKUPS.length || (this.byKey.size < swarm.peers.size && room())) void discovery.refresh().catch(() => {})
        step(i + 1)
      }, RELOOKUPS[Math.min(i, RELOOKUPS.length - 1)])
    }
    step(0)
  }

  async close(): Promise<void> {
    if (this.relookup !== null) clearTimeout(this.relookup)
    await this.swarm?.destroy()
    if (this.swarm === null) await this.dht.destroy()
    this.raw.complete()
    this.events.complete()
    this.peers.complete()
  }

  private open(keyPair: Corestore.KeyPair): Hyperswarm {
    const swarm = new Hyperswarm({ dht: this.dht, keyPair, ...(this.maxPeers === undefined ? {} : { maxPeers: this.maxPeers }) })
    swarm.on('connection', (conn: NoiseSecretStream) => {
      const stream = conn as unknown as PeerStream
      const key = Buffer.from(conn.remotePublicKey).toString('hex')
      conn.on('error', () => {})
      if (KEEPALIVE > 0) conn.setKeepAlive(KEEPALIVE)
      this.raw.next({ type: 'open', connection: stream })
      this.store.replicate(conn)
      let peer: Peer | null = null
      Protomux.from(conn)
        .createChannel({
          protocol: PROBE,
          onopen: () => {
            if (conn.destroyed) return
            const previous = this.byKey.get(key)
            peer = { remotePublicKey: conn.remotePublicKey, remoteAddress: `${conn.rawStream?.remoteHost}:${conn.rawStream?.remotePort}`, type: 'udx', stream }
            this.byKey.set(key, peer)
            this.events.next({ type: previous === undefined ? 'add' : 'swap', peer })
            this.publish()
          }
        })
        ?.open()
      conn.once('close', () => {
        this.raw.next({ type: 'close', connection: stream })
        if (peer === null || this.byKey.get(key) !== peer) return
        this.byKey.delete(key)
        this.events.next({ type: 'remove', peer })
        this.publish()
      })
    })
    return swarm
  }

  private publish(): void {
    this.peers.next([...this.byKey.values()])
  }
}
