import type Corestore from 'corestore'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import b4a from 'b4a'
import {
  BehaviorSubject,
  EMPTY,
  Observable,
  Subject,
  Subscription,
  asyncScheduler,
  catchError,
  defer,
  filter,
  finalize,
  from,
  map,
  mergeMap,
  of,
  startWith,
  takeWhile,
  tap
} from 'rxjs'
import { dedupeConnections } from '../operators/dedupeConnections'
import { peerSet } from '../operators/peerSet'
import type { ConnectionEvent, DedupeEvent } from '../operators/types'
import { NetworkerError, errors } from './errors'
import type { ExtensionHub } from './extensions'
import { IdleWatchdog } from './idle-watchdog'
import { armKeepAlive } from './keepalive'
import { toDiscoveryKey, toHex } from './keys'
import type { NetworkerOptions } from './options'
import type { Peer, PeerStream } from './peer'
import { PeerRecord } from './peer-record'
import type { NetworkerPeerEvent } from './streams'
import type { SwarmSource } from './swarm-source'

/** Hyperswarm's own default `maxPeers`, which we also hold inbound connections to. */
const DEFAULT_MAX_PEERS = 64

/** Bounds (ms) of the idle watchdog's tick, an eighth of `timeout` between them. */
const MIN_TICK = 25
const MAX_TICK = 1000

type AdmissionOptions = Pick<
  NetworkerOptions,
  'allowlist' | 'firewall' | 'onauthenticate' | 'maxPeers' | 'timeout' | 'dedupeGraceTime' | 'scheduler'
>

/**
 * The connection pipeline and the one owner of the peer set: every raw connection gets its
 * keep-alive and idle time-out, then admission (allowlist and firewall before dialling,
 * `onauthenticate`, `maxPeers` for inbound and outbound), then dedup into one peer per remote key,
 * extension channels and replication, and finally `peerEvents$` / `peers$`.
 */
export class Connections {
  private readonly peerEventsSubject = new Subject<NetworkerPeerEvent>()
  private readonly peersSubject = new BehaviorSubject<readonly Peer[]>(Object.freeze([]))
  private readonly rawSubject = new Subject<ConnectionEvent<PeerStream>>()
  private readonly byKey = new Map<string, PeerRecord>()
  private readonly subscriptions = new Subscription()
  /** Set from the first instant of `close()`: every new connection is refused or closed. */
  private refusing = false
  /** Connections opened but not yet admitted (no answer yet, or `onauthenticate`); they count as dialling. */
  private admitting = 0
  /** The silence of every connection, when `timeout` is set. */
  private readonly watchdog: IdleWatchdog | null
  private source: SwarmSource | null = null

  /** Hot, no replay: `add`, `remove` and `swap`. */
  readonly peerEvents$: Observable<NetworkerPeerEvent> = this.peerEventsSubject.asObservable()
  /** Every raw connection's open and close, before admission (legacy `stream-opened`/`-closed`). */
  readonly connections$: Observable<ConnectionEvent<PeerStream>> = this.rawSubject.asObservable()

  constructor(
    private readonly store: Corestore,
    private readonly hub: ExtensionHub,
    private readonly opts: AdmissionOptions,
    private readonly onerror: (err: NetworkerError) => void
  ) {
    this.subscriptions.add(this.peerEventsSubject.pipe(peerSet({ emitInitial: false })).subscribe(this.peersSubject))
    const timeout = opts.timeout ?? 0
    this.watchdog = timeout > 0 ? new IdleWatchdog(Math.max(MIN_TICK, Math.min(MAX_TICK, Math.floor(timeout / 8)))) : null
  }

  /** The peer set's subject: `peers$` is built on it by the networker. */
  get peersState(): BehaviorSubject<readonly Peer[]> {
    return this.peersSubject
  }

  /** Connections opened but not yet admitted. */
  get pending(): number {
    return this.admitting
  }

  /** The `allowlist`, the caller's `firewall`, and closing as one Hyperswarm firewall. */
  firewall(): (remotePublicKey: Buffer, payload: unknown) => boolean {
    const { allowlist, firewall } = this.opts
    const allowed = allowlist === undefined ? null : new Set(allowlist.map((key) => toHex(toDiscoveryKey(key))))
    return (remotePublicKey, payload) =>
      this.refusing ||
      (allowed !== null && !allowed.has(toHex(remotePublicKey))) ||
      (firewall !== undefined && firewall(remotePublicKey, payload))
  }

  /** Runs the pipeline on the swarm's raw connections. */
  attach(source: SwarmSource): void {
    this.source = source
    this.subscriptions.add(
      source.connections$
        .pipe(
          tap((event) => this.rawSubject.next(event)),
          // A connection is a peer only once data has crossed both ways.
          mergeMap((event) => (event.type === 'open' ? this.whenAnswered(event) : of(event))),
          mergeMap((event) => this.authenticate(event)),
          dedupeConnections<NoiseSecretStream>({
            graceTime: this.opts.dedupeGraceTime,
            scheduler: this.opts.scheduler ?? asyncScheduler
          })
        )
        .subscribe((event) => this.onPeerEvent(event))
    )
  }

  /** One remote peer while it is connected (see `ReactiveNetworker.peer$`). */
  peer$(remotePublicKey: Uint8Array | string): Observable<Peer> {
    const hex = toHex(toDiscoveryKey(remotePublicKey))
    return defer(() => {
      const current = this.byKey.get(hex)
      const events = this.peerEventsSubject.pipe(
        filter(({ peer }) => toHex(peer.remotePublicKey) === hex),
        takeWhile(({ type }) => type !== 'remove'),
        map(({ peer }): Peer => peer)
      )
      return current === undefined ? events : events.pipe(startWith<Peer>(current))
    })
  }

  /** The remote keys of the connected peers that Hyperswarm found through this topic. */
  peersFoundFor(topic: Buffer): Buffer[] {
    const source = this.source
    if (source === null) return []
    const found: Buffer[] = []
    for (const peer of this.byKey.values()) {
      if (source.topicsOf(peer.remotePublicKey).some((t) => b4a.equals(t, topic))) found.push(peer.remotePublicKey)
    }
    return found
  }

  /** From now on every new connection is refused (firewall) or closed on arrival. */
  refuse(): void {
    this.refusing = true
  }

  /** Stops the pipeline and completes the streams (after the swarm is destroyed). */
  close(): void {
    this.watchdog?.stop()
    this.subscriptions.unsubscribe()
    this.peerEventsSubject.complete()
    this.peersSubject.complete()
    this.rawSubject.complete()
  }

  /**
   * Guards a new connection (keep-alive channel and idle time-out, from its first moment, so a
   * half-open or mute one times out without ever becoming a peer) and holds it until its remote
   * has answered the keep-alive channel. One that closes first is never seen again.
   */
  private whenAnswered(event: ConnectionEvent<NoiseSecretStream>): Observable<ConnectionEvent<NoiseSecretStream>> {
    return new Observable((subscriber) => {
      const conn = event.connection
      let waiting = true
      const settle = (): void => {
        if (!waiting) return
        waiting = false
        conn.removeListener('close', onclose)
        this.admitting--
        this.source?.update()
      }
      const onclose = (): void => {
        settle()
        subscriber.complete()
      }
      this.admitting++
      conn.once('close', onclose)
      armKeepAlive(conn, {
        timeout: this.opts.timeout ?? 0,
        watchdog: this.watchdog,
        onerror: this.onerror,
        onalive: () => {
          if (!waiting) return
          // Passed on before it stops counting as dialling: no topic is flushed in between.
          if (!this.refusing) subscriber.next(event)
          settle()
          subscriber.complete()
        }
      })
      if (conn.destroyed) onclose()
      return settle
    })
  }

  /** Holds a new connection until `onauthenticate` accepts it; refused ones are closed. */
  private authenticate(event: ConnectionEvent<NoiseSecretStream>): Observable<ConnectionEvent<NoiseSecretStream>> {
    const check = this.opts.onauthenticate
    if (check === undefined || event.type === 'close') return of(event)
    const conn = event.connection
    // Until the decision, the connection counts as dialling: no topic is flushed before it.
    this.admitting++
    const decision = new Promise<void>((resolve, reject) => {
      let settled = false
      const done = (err?: Error | null): void => {
        if (settled) return
        settled = true
        if (err) reject(err)
        else resolve()
      }
      try {
        check(Buffer.from(conn.remotePublicKey), done)
      } catch (err) {
        // A caller bug, not a refusal: reported as such, and the connection is refused.
        this.onerror(errors.callbackThrew('onauthenticate', toHex(conn.remotePublicKey), err))
        done(err instanceof Error ? err : new Error(String(err)))
      }
    })
    return from(decision.then(() => event)).pipe(
      mergeMap((accepted) => (conn.destroyed || this.refusing ? EMPTY : of(accepted))),
      catchError((err: unknown) => {
        this.onerror(errors.authentication(toHex(conn.remotePublicKey), err))
        // As Hyperswarm does with a key its firewall refuses: never dialled again (the topic's
        // repair does not count it as missing) and refused inbound.
        this.source?.ban(conn.remotePublicKey)
        conn.destroy()
        return EMPTY
      }),
      // After the admitted connection went through dedup (so it is in peers$).
      finalize(() => {
        this.admitting--
        this.source?.update()
      })
    )
  }

  private onPeerEvent(event: DedupeEvent<NoiseSecretStream>): void {
    if (this.refusing && (event.type === 'add' || event.type === 'swap')) {
      event.connection.destroy()
      if (event.type === 'add') return
    }
    switch (event.type) {
      case 'add': {
        if (this.byKey.size >= (this.opts.maxPeers ?? DEFAULT_MAX_PEERS)) {
          // Hyperswarm 4.17 checks maxPeers only when it dials: inbound connections are ours to
          // refuse. The dedup state forgets the connection when it closes.
          event.connection.destroy()
          return
        }
        const peer = new PeerRecord(Buffer.from(event.connection.remotePublicKey), event.connection)
        this.byKey.set(event.key, peer)
        this.hub.attach(peer)
        this.replicate(event.connection, event.key)
        this.peerEventsSubject.next({ type: 'add', peer })
        return
      }
      case 'swap': {
        const peer = this.byKey.get(event.key)
        if (peer === undefined) return
        peer.swapTo(event.connection)
        this.hub.swap(peer)
        this.replicate(event.connection, event.key)
        this.peerEventsSubject.next({ type: 'swap', peer })
        return
      }
      case 'remove': {
        const peer = this.byKey.get(event.key)
        if (peer === undefined) return
        this.byKey.delete(event.key)
        this.hub.detach(peer)
        this.peerEventsSubject.next({ type: 'remove', peer })
        return
      }
      case 'drop':
        event.connection.destroy()
        return
    }
  }

  private replicate(conn: NoiseSecretStream, key: string): void {
    if (this.refusing || conn.destroyed) return
    try {
      this.store.replicate(conn)
    } catch (err) {
      this.onerror(errors.replication(key, err))
    }
  }
}
