import type Corestore from 'corestore'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import b4a from 'b4a'
import {
  BehaviorSubject,
  EMPTY,
  Observable,
  SchedulerLike,
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
import {
  DEFAULT_MAX_PEERS,
  EVICTED_REFUSAL_MS,
  EVICTION_GRACE_MS,
  MAX_PROBATION,
  PROBATION_WAIT_MS,
  REFUSED_BACKOFF_MS,
  REFUSED_WITHIN_MS,
  TELL_PEERS_MS,
  minPeersFor
} from './budgets'
import { NetworkerError, errors } from './errors'
import type { ExtensionHub } from './extensions'
import { IdleWatchdog } from './idle-watchdog'
import { KeepAliveHandle, armKeepAlive, handshakeBudget } from './keepalive'
import { toDiscoveryKey, toHex } from './keys'
import type { NetworkerOptions } from './options'
import type { Peer, PeerStream } from './peer'
import { PeerRecord } from './peer-record'
import type { NetworkerPeerEvent } from './streams'
import type { SwarmSource } from './swarm-source'

/** Bounds (ms) of the idle watchdog's tick, an eighth of `timeout` between them. */
const MIN_TICK = 25
const MAX_TICK = 1000

type AdmissionOptions = Pick<
  NetworkerOptions,
  'allowlist' | 'firewall' | 'onauthenticate' | 'maxPeers' | 'timeout' | 'handshakeTimeout' | 'dedupeGraceTime' | 'scheduler'
>

/**
 * The connection pipeline and the one owner of the peer set: every raw connection gets its
 * keep-alive, handshake budget and idle time-out, then admission (allowlist and firewall before
 * dialling, `maxPeers` for inbound and outbound counting the connections still pending,
 * `onauthenticate`), then dedup into one peer per remote key, extension channels and
 * replication, and finally `peerEvents$` / `peers$`.
 */
export class Connections {
  private readonly peerEventsSubject = new Subject<NetworkerPeerEvent>()
  private readonly peersSubject = new BehaviorSubject<readonly Peer[]>(Object.freeze([]))
  private readonly rawSubject = new Subject<ConnectionEvent<PeerStream>>()
  private readonly byKey = new Map<string, PeerRecord>()
  private readonly subscriptions = new Subscription()
  /** Set from the first instant of `close()`: every new connection is refused or closed. */
  private refusing = false
  /**
   * Connections opened but not yet admitted that a topic's flush waits for (see `pending`): those
   * whose remote has not answered yet, and those `onauthenticate` is deciding on.
   */
  private answering = 0
  private authenticating = 0
  /** The remote keys (hex) of those connections, with how many each: they count against `maxPeers`. */
  private readonly admittingKeys = new Map<string, number>()
  private readonly maxPeers: number
  private readonly handshakeTimeout: number
  private readonly scheduler: SchedulerLike
  private unanswered = 0
  /** When (scheduler ms) `answering` last rose from 0, or null while it is 0. */
  private busySince: number | null = null
  /** Tells the swarm's progress when that run reaches the handshake budget. */
  private busyCap: Subscription | null = null
  private refusedFull = 0
  /** The fewest peers a networker keeps looking for and is given room for (`minPeersFor`). */
  private readonly minPeers: number
  /** Keys of connections that arrived while every slot was held: waiting to tell their peer count. */
  private readonly probation = new Set<string>()
  /** Keys evicted to make room, refused until the time given (ms, `Date.now()`) while we are full. */
  private readonly evicted = new Map<string, number>()
  /** When each peer (by key) was added. */
  private readonly addedAt = new Map<string, number>()
  /** The keep-alive channel of every open connection: to tell our peer count. */
  private readonly tellers = new Map<NoiseSecretStream, KeepAliveHandle>()
  /** Connections whose remote told us it took them as a peer (so their close is no refusal). */
  private readonly admittedBy = new WeakSet<NoiseSecretStream>()
  /** How many peers each connection's remote told us it has. */
  private readonly told = new Map<NoiseSecretStream, number>()
  private evictions = 0
  private tellTimer: ReturnType<typeof setTimeout> | null = null
  /** The handshake budget of every new connection and, when `timeout` is set, the silence of every connection. */
  private readonly watchdog: IdleWatchdog
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
    this.maxPeers = opts.maxPeers ?? DEFAULT_MAX_PEERS
    this.minPeers = minPeersFor(this.maxPeers)
    this.handshakeTimeout = handshakeBudget(opts)
    this.scheduler = opts.scheduler ?? asyncScheduler
    const shortest = timeout > 0 ? Math.min(timeout, this.handshakeTimeout) : this.handshakeTimeout
    this.watchdog = new IdleWatchdog(Math.max(MIN_TICK, Math.min(MAX_TICK, Math.floor(shortest / 8))))
  }

  /** The peer set's subject: `peers$` is built on it by the networker. */
  get peersState(): BehaviorSubject<readonly Peer[]> {
    return this.peersSubject
  }

  /**
   * Connections opened but not yet admitted that count as dialling (no topic is flushed while
   * one is under way): those we dialled and those from a remote that our discovery found (a
   * flush waits for the peers it found; a stranger dialling us is none of them).
   *
   * Those whose remote has not answered yet count for at most one handshake budget in a row:
   * every connection waiting when such a run began has answered or been dropped by then, so what
   * keeps the run going is newer connections (mute peers whose drops and Hyperswarm's redials
   * overlap, slow ones that keep arriving). Past that no flush waits for them, so no remote can
   * hold `configure()` longer. Those `onauthenticate` is deciding on always count: that wait is
   * the caller's own.
   */
  get pending(): number {
    const capped = this.busySince !== null && this.scheduler.now() - this.busySince >= this.handshakeTimeout
    return (capped ? 0 : this.answering) + this.authenticating
  }

  /**
   * Connections destroyed because their remote did not answer the keep-alive channel within the
   * handshake budget (half-open, mute): never peers, and not reported on `errors$` (routine on a
   * public DHT). For a metrics stream.
   */
  get handshakeTimeouts(): number {
    return this.unanswered
  }

  /** Connections destroyed as they opened because peers and pending connections held every `maxPeers` slot. */
  get refusedOverMaxPeers(): number {
    return this.refusedFull
  }

  /** Peers closed to make room for a newcomer that had fewer than the minimum (see `whenAnswered`). */
  get evictedPeers(): number {
    return this.evictions
  }

  /** Whether peers and pending connections hold every `maxPeers` slot: no topic needs more. */
  get saturated(): boolean {
    return !this.hasRoomFor(null)
  }

  /** `maxPeers`. */
  get slots(): number {
    return this.maxPeers
  }

  /** The fewest peers this networker looks for while it has fewer (see `minPeersFor`). */
  get minimumPeers(): number {
    return this.minPeers
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
    if (this.tellTimer !== null) clearTimeout(this.tellTimer)
    this.tellTimer = null
    this.watchdog.stop()
    this.busyCap?.unsubscribe()
    this.subscriptions.unsubscribe()
    this.peerEventsSubject.complete()
    this.peersSubject.complete()
    this.rawSubject.complete()
  }

  /**
   * Admits a new connection to the pipeline if a `maxPeers` slot is free for it (else destroys
   * it), guards it (keep-alive channel, handshake budget and idle time-out, from its first
   * moment, so a half-open or mute one is dropped without ever becoming a peer) and holds it
   * until its remote has answered the keep-alive channel. One that closes first is never seen
   * again.
   */
  private whenAnswered(event: ConnectionEvent<NoiseSecretStream>): Observable<ConnectionEvent<NoiseSecretStream>> {
    return new Observable((subscriber) => {
      const conn = event.connection
      const key = toHex(conn.remotePublicKey)
      // Every slot held: the connection may still come in on probation, if it tells us it has
      // fewer peers than the minimum and one of ours has more (see `decide`).
      const onProbation = !this.hasRoomFor(key)
      if (onProbation && (this.probation.size >= MAX_PROBATION || this.probation.has(key) || this.isEvicted(key))) {
        // Hyperswarm 4.17 checks maxPeers only when it dials: inbound connections are ours to
        // refuse, and a connection still pending takes a slot as a peer does.
        this.refusedFull++
        conn.destroy()
        subscriber.complete()
        return
      }
      let waiting = true
      let alive = false
      let probationTimer: ReturnType<typeof setTimeout> | null = null
      const dialling = this.isDialling(conn)
      this.watchRefusal(conn)
      const settle = (): void => {
        if (!waiting) return
        waiting = false
        conn.removeListener('close', onclose)
        if (probationTimer !== null) clearTimeout(probationTimer)
        if (onProbation) this.probation.delete(key)
        else this.release(key)
        if (dialling && --this.answering === 0) this.endRun()
        this.source?.update()
      }
      const onclose = (): void => {
        settle()
        this.tellers.delete(conn)
        this.told.delete(conn)
        subscriber.complete()
      }
      const pass = (): void => {
        // Passed on before it stops counting as dialling: no topic is flushed in between.
        if (!this.refusing) subscriber.next(event)
        settle()
        subscriber.complete()
      }
      /** A connection on probation answered and told its peer count (or did not in time). */
      const decide = (): void => {
        if (!waiting || !alive) return
        if (this.hasRoomFor(key) || this.makeRoomFor(key, this.told.get(conn))) return pass()
        this.refusedFull++
        conn.destroy()
      }
      if (onProbation) this.probation.add(key)
      else this.hold(key)
      if (dialling && this.answering++ === 0) this.startRun()
      conn.once('close', onclose)
      const handle = armKeepAlive(conn, {
        timeout: this.opts.timeout ?? 0,
        handshakeTimeout: this.handshakeTimeout,
        watchdog: this.watchdog,
        onerror: this.onerror,
        onunanswered: () => {
          this.unanswered++
        },
        peers: () => this.byKey.size,
        onpeers: (count) => {
          this.told.set(conn, count)
          if (onProbation) decide()
        },
        onadmitted: () => {
          this.admittedBy.add(conn)
        },
        onalive: () => {
          if (!waiting) return
          alive = true
          if (!onProbation) return pass()
          // Its count follows the channel's open at once; one that never tells (an older
          // version, a plain Hyperswarm peer) is decided without it when its time is up.
          if (this.told.has(conn)) decide()
        }
      })
      if (onProbation) {
        // On probation a connection has `PROBATION_WAIT_MS` from its first moment to answer and
        // tell its count, not the whole handshake budget: mute ones hold these slots briefly.
        probationTimer = setTimeout(() => {
          probationTimer = null
          if (alive) return decide()
          this.refusedFull++
          conn.destroy()
        }, PROBATION_WAIT_MS)
        probationTimer.unref()
      }
      this.tellers.set(conn, handle)
      if (conn.destroyed) onclose()
      return settle
    })
  }

  /**
   * Every slot is held and a newcomer that has `told` peers asks in. One with fewer than the
   * minimum is given room: the peer that told the most peers (more than the minimum, so it keeps
   * at least the minimum; connected for `EVICTION_GRACE_MS` at least; ties broken at random) is
   * closed, and refused for `EVICTED_REFUSAL_MS` while we are full, so it does not take its slot
   * back. Returns whether room was made.
   */
  private makeRoomFor(key: string, told: number | undefined): boolean {
    if (told === undefined || told >= this.minPeers) return false
    const now = Date.now()
    let victim: PeerRecord | null = null
    let most = this.minPeers
    let ties = 0
    for (const [hex, peer] of this.byKey) {
      const count = this.told.get(peer.stream as unknown as NoiseSecretStream)
      if (count === undefined || count <= this.minPeers) continue
      if (now - (this.addedAt.get(hex) ?? now) < EVICTION_GRACE_MS) continue
      if (count > most) {
        most = count
        victim = peer
        ties = 1
      } else if (count === most && victim !== null && Math.random() * ++ties < 1) victim = peer
    }
    if (victim === null) return false
    // Removed at once (not after the dedupe grace): the newcomer takes its slot now, and the
    // victim's redial within the grace is no swap (it is refused while we are full).
    const hex = toHex(victim.remotePublicKey)
    this.evictions++
    // Keys that never came back are forgotten here, so the map holds only the last refusal period.
    for (const [key, until] of this.evicted) if (until <= now) this.evicted.delete(key)
    this.evicted.set(hex, now + EVICTED_REFUSAL_MS)
    this.byKey.delete(hex)
    this.addedAt.delete(hex)
    this.hub.detach(victim)
    this.peerEventsSubject.next({ type: 'remove', peer: victim })
    ;(victim.stream as unknown as NoiseSecretStream).destroy()
    this.tellPeers()
    return true
  }

  /** Whether `key` was evicted lately and we are still full (its connection is refused). */
  private isEvicted(key: string): boolean {
    const until = this.evicted.get(key)
    if (until === undefined) return false
    if (Date.now() < until) return true
    this.evicted.delete(key)
    return false
  }

  /**
   * A connection we dialled that the remote closed within `REFUSED_WITHIN_MS` of its opening,
   * without telling us it took it as a peer, was refused (the remote was full, or is failing):
   * Hyperswarm would dial it again within seconds, and again after every lookup, so the key is
   * backed off for `REFUSED_BACKOFF_MS`. One the remote had admitted and then lost (a cut, a
   * restart, a connection it closed) is dialled again as usual: backing off from it would keep
   * two peers apart for a minute.
   */
  private watchRefusal(conn: NoiseSecretStream): void {
    if (!conn.isInitiator) return
    const openedAt = Date.now()
    let byRemote = false
    const remote = (err?: Error): void => {
      // Hyperswarm's duplicate resolution closes one of two connections to a peer: no refusal.
      if (err?.message !== 'Duplicate connection') byRemote = true
    }
    conn.once('end', remote)
    conn.on('error', remote)
    conn.once('close', () => {
      conn.removeListener('end', remote)
      conn.removeListener('error', remote)
      const key = toHex(conn.remotePublicKey)
      const refused = byRemote && !this.admittedBy.has(conn)
      if (refused && !this.refusing && !this.byKey.has(key) && Date.now() - openedAt < REFUSED_WITHIN_MS) {
        this.source?.backOff(conn.remotePublicKey, REFUSED_BACKOFF_MS)
      }
    })
  }

  /**
   * Tells every connection's remote our peer count (it changed), at most once every
   * `TELL_PEERS_MS`: a mesh forming changes it at every add, and each change would otherwise be a
   * message to every connection (2,400 per host while 50 hosts meshed). A new connection hears
   * the count at once when its keep-alive channel opens; the rest only matters to a full remote
   * choosing whom to close.
   */
  private tellPeers(): void {
    if (this.tellTimer !== null) return
    this.tellTimer = setTimeout(() => {
      this.tellTimer = null
      const count = this.byKey.size
      for (const handle of this.tellers.values()) handle.tellPeers(count)
    }, TELL_PEERS_MS)
    this.tellTimer.unref()
  }

  /** Holds a new connection until `onauthenticate` accepts it; refused ones are closed. */
  private authenticate(event: ConnectionEvent<NoiseSecretStream>): Observable<ConnectionEvent<NoiseSecretStream>> {
    const check = this.opts.onauthenticate
    if (check === undefined || event.type === 'close') return of(event)
    const conn = event.connection
    const key = toHex(conn.remotePublicKey)
    // Until the decision, the connection holds its maxPeers slot and, if we dialled it or
    // discovery found its remote, counts as dialling (no topic is flushed before it).
    const dialling = this.isDialling(conn)
    this.hold(key)
    if (dialling) this.authenticating++
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
        this.release(key)
        if (dialling) this.authenticating--
        this.source?.update()
      })
    )
  }

  /**
   * Whether a new connection from `key` may enter admission: its key already is a peer or
   * pending (a replacement, a duplicate Hyperswarm is resolving), or the peers and the distinct
   * other keys pending admission hold fewer than `maxPeers` slots.
   */
  private hasRoomFor(key: string | null): boolean {
    if (key !== null && !this.isEvicted(key) && (this.byKey.has(key) || this.admittingKeys.has(key))) return true
    let held = this.byKey.size
    for (const pending of this.admittingKeys.keys()) if (!this.byKey.has(pending)) held++
    return held < this.maxPeers
  }

  /** Whether a pending connection counts as dialling (see `pending`). */
  private isDialling(conn: NoiseSecretStream): boolean {
    return conn.isInitiator || (this.source?.topicsOf(conn.remotePublicKey).length ?? 0) > 0
  }

  /** A run of connections waiting for their remote's answer begins (see `pending`). */
  private startRun(): void {
    this.busySince = this.scheduler.now()
    this.busyCap = this.scheduler.schedule(() => this.source?.update(), this.handshakeTimeout)
  }

  private endRun(): void {
    this.busySince = null
    this.busyCap?.unsubscribe()
    this.busyCap = null
  }

  /** A connection from `key` enters admission: it holds a `maxPeers` slot until released. */
  private hold(key: string): void {
    this.admittingKeys.set(key, (this.admittingKeys.get(key) ?? 0) + 1)
  }

  private release(key: string): void {
    const left = (this.admittingKeys.get(key) ?? 1) - 1
    if (left > 0) this.admittingKeys.set(key, left)
    else this.admittingKeys.delete(key)
  }

  private onPeerEvent(event: DedupeEvent<NoiseSecretStream>): void {
    if (this.refusing && (event.type === 'add' || event.type === 'swap')) {
      event.connection.destroy()
      if (event.type === 'add') return
    }
    switch (event.type) {
      case 'add': {
        if (this.byKey.size >= this.maxPeers) {
          // Cannot happen while pending connections hold their slots (hasRoomFor); kept as the
          // last guard. The dedup state forgets the connection when it closes.
          event.connection.destroy()
          return
        }
        const peer = new PeerRecord(Buffer.from(event.connection.remotePublicKey), event.connection)
        this.byKey.set(event.key, peer)
        this.addedAt.set(event.key, Date.now())
        this.hub.attach(peer)
        this.replicate(event.connection, event.key)
        this.tellers.get(event.connection)?.admitted()
        this.peerEventsSubject.next({ type: 'add', peer })
        this.tellPeers()
        return
      }
      case 'swap': {
        const peer = this.byKey.get(event.key)
        if (peer === undefined) {
          // The key's first connection was refused: its replacement is no peer either. Left open,
          // the remote may replicate on it while we never do, and Hyperswarm counts it.
          event.connection.destroy()
          return
        }
        peer.swapTo(event.connection)
        this.hub.swap(peer)
        this.replicate(event.connection, event.key)
        this.tellers.get(event.connection)?.admitted()
        this.peerEventsSubject.next({ type: 'swap', peer })
        return
      }
      case 'remove': {
        const peer = this.byKey.get(event.key)
        if (peer === undefined) return
        this.byKey.delete(event.key)
        this.addedAt.delete(event.key)
        this.hub.detach(peer)
        this.peerEventsSubject.next({ type: 'remove', peer })
        this.tellPeers()
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
