import type Corestore from 'corestore'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import b4a from 'b4a'
import {
  BehaviorSubject,
  Observable,
  SchedulerLike,
  Subject,
  Subscription,
  asyncScheduler,
  defer,
  filter,
  isObservable,
  skip,
  startWith,
  takeWhile,
  distinctUntilChanged,
  map,
  mergeMap,
  from,
  of,
  EMPTY,
  catchError,
  finalize,
  tap,
  first,
  ignoreElements,
  skipWhile,
  takeUntil,
  timer
} from 'rxjs'
import { dedupeConnections } from '../operators/dedupeConnections'
import { peerSet } from '../operators/peerSet'
import { sameState } from '../operators/topicState'
import type { ConnectionEvent, DedupeEvent, PeerEvent, TopicState } from '../operators/types'
import { NetworkerError, errors } from './errors'
import { toDiscoveryKey, toHex } from './keys'
import { createSwarmSource, SwarmSource } from './swarm-source'
import { Topics, notJoined } from './topics'
import { ExtensionHub, Extension, ExtensionMessage, DEFAULT_MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE_LIMIT } from './extensions'
import { guardConnection } from './keepalive'
import { Encoding, resolveEncoding } from './encodings'
import type { Peer } from './peer'
import { PeerRecord } from './peer-record'
import { ConfigStore, RememberedConfig } from './config-store'
import type { NetworkerPeerEvent, NetworkerStreams } from './streams'
export type { NetworkerPeerEvent } from './streams'
import type { CorestoreLike, DhtNodeLike, KeyPairLike, SwarmLike } from './stack-types'
import type { PeerStream } from './peer'
import { findingPeersFor, replicationOpened } from './core-replication'

/** The name under which the default Noise key pair is derived from the store. */
export const KEY_PAIR_NAME = '@basestore/networker'

/** Default bound (ms) on waiting, before a topic counts as flushed, for its peers to open the core's replication. */
export const DEFAULT_REPLICATION_WAIT = 5000
/** How often (ms) that wait looks at the core's peers. */
const REPLICATION_POLL_MS = 10

/** Where a networker is in its life: `listen()` resolved, `close()` called, `close()` done. */
export type NetworkerState = 'idle' | 'listening' | 'closing' | 'closed'

/** Options of `new ReactiveNetworker(store, opts)`: every Hyperswarm option, plus ours. */
export interface NetworkerOptions {
  /** Noise key pair for every connection. Default: derived from the store, stable across restarts. */
  keyPair?: KeyPairLike
  /** A HyperDHT node to use (for example `createLocalNetwork().swarmOptions().dht`); closed on `close()`. */
  dht?: DhtNodeLike
  /** Bootstrap nodes of a private network. Default: the public HyperDHT. */
  bootstrap?: Array<string | { host: string; port: number }>
  maxPeers?: number
  maxClientConnections?: number
  maxServerConnections?: number
  maxParallel?: number
  /** Return `true` to refuse a remote key before connecting. */
  firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
  /**
   * Only these remote keys (32 bytes or 64 hex) may connect, in either direction; any other is
   * never connected, replicated or listed in `peers$`. Combined with `firewall`.
   */
  allowlist?: ReadonlyArray<Buffer | Uint8Array | string>
  /**
   * ms after which a silent connection is dropped, counted from its first moment (both sides
   * keep alive at a third of it). A remote that never answers (a half-open connection, a mute
   * peer) is dropped too; a plain Hyperswarm peer, which rejects the keep-alive channel, keeps
   * Hyperswarm's default.
   */
  timeout?: number
  /**
   * Largest extension message, in bytes, sent or accepted. Default 4 MiB; at most
   * `MAX_MESSAGE_SIZE_LIMIT` (8 MiB − 64 KiB), what the transport carries in one frame.
   */
  maxMessageSize?: number
  /**
   * Called for every new connection before it is replicated or announced; call `done()` to
   * accept, `done(err)` to refuse and close it.
   */
  onauthenticate?: (remotePublicKey: Buffer, done: (err?: Error | null) => void) => void
  /** ms a closed connection waits for a replacement before its peer is removed. Default 500. */
  dedupeGraceTime?: number
  /** ms between lookups of a topic that has no peers yet. */
  relookupBackoff?: readonly number[]
  /** Scheduler for dedup grace and relookup timers (tests). Default `asyncScheduler`. */
  scheduler?: SchedulerLike
  /** Restore remembered configurations on `listen()`. Default true. */
  restore?: boolean
  /**
   * ms a topic whose discovery key belongs to a core open in the store waits, once discovery is
   * flushed, for each peer found through it to open that core's replication session (so
   * `core.peers` holds them) before it counts as flushed. Default 5000; 0 does not wait.
   */
  replicationWait?: number
}

/** What `configure` takes. */
export interface ConfigureOptions {
  /** Announce this key (Hyperswarm `server`). Default true. */
  announce?: boolean
  /** Look up peers for this key (Hyperswarm `client`). Default true. */
  lookup?: boolean
  /** Resolve only once the topic is flushed. Default true. */
  flush?: boolean
  /** Store the configuration in the Corestore (true), forget it (false), or leave as is. */
  remember?: boolean
}

/** A configuration in force, as `status()` and `allStatuses()` report it. */
export interface TopicStatus {
  readonly discoveryKey: Buffer
  readonly announce: boolean
  readonly lookup: boolean
  readonly remember: boolean
}

/** Hyperswarm's own default `maxPeers`, which we also hold inbound connections to. */
const DEFAULT_MAX_PEERS = 64


/**
 * A state stream: the subject's current value on subscribe, then its changes; once it completed,
 * a late subscriber still gets the last value, then completion (so `toSignal(…, { requireSync:
 * true })` and `firstValueFrom` work on a closed networker).
 */
function lastingState<T>(subject: BehaviorSubject<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    // A BehaviorSubject hands a subscriber its value first, unless it already completed.
    let delivered = false
    return subject.subscribe({
      next: (value) => {
        delivered = true
        subscriber.next(value)
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => {
        if (!delivered) subscriber.next(subject.getValue())
        subscriber.complete()
      }
    })
  })
}

/**
 * The reactive networking layer of a Corestore: discovery on the HyperDHT through Hyperswarm,
 * one Noise connection per remote peer, all-to-all replication, and extension messages, with
 * everything that changes over time as a hot Observable.
 */
export class ReactiveNetworker implements NetworkerStreams {
  private readonly store: Corestore
  private readonly opts: NetworkerOptions
  private readonly peerEventsSubject = new Subject<NetworkerPeerEvent>()
  private readonly peersSubject = new BehaviorSubject<readonly Peer[]>(Object.freeze([]))
  private readonly errorsSubject = new Subject<NetworkerError>()
  private readonly topicsSubject = new BehaviorSubject<ReadonlyMap<string, TopicState>>(new Map())
  private readonly stateSubject = new BehaviorSubject<NetworkerState>('idle')
  private readonly connectionsSubject = new Subject<ConnectionEvent<PeerStream>>()
  private resolvedKeyPair: KeyPairLike | null = null
  private keyPairLoad: Promise<KeyPairLike> | null = null
  private hasListened = false
  private readonly peersByKey = new Map<string, PeerRecord>()
  private readonly subscriptions = new Subscription()
  private readonly hub: ExtensionHub
  private readonly statuses = new Map<string, TopicStatus>()
  /** Keys a caller configured in this process: a background restore never overrides them. */
  private readonly callerKeys = new Set<string>()
  private rememberedAtStart: Promise<Map<string, RememberedConfig & { discoveryKey: Buffer }>> | null = null
  private shuttingDown = false
  /** Connections waiting for `onauthenticate`. */
  private authenticating = 0
  private source: SwarmSource | null = null
  private topicsManager: Topics | null = null
  private configStore: ConfigStore | null = null
  private opening: Promise<SwarmSource> | null = null
  private listening: Promise<void> | null = null
  private closing: Promise<void> | null = null

  /**
   * Hot. The current peers on subscribe (a frozen array), then after every add or remove.
   * Completes on close; a subscriber after close gets the last value, then completion. Never errors.
   */
  readonly peers$: Observable<readonly Peer[]> = lastingState(this.peersSubject)
  /** Hot, no replay: `add`, `remove`, and `swap` (same Peer, new stream) events. Completes on close. */
  readonly peerEvents$: Observable<NetworkerPeerEvent> = this.peerEventsSubject.asObservable()
  /**
   * Hot. The joined topics (key: hex discovery key) on subscribe, then every change; each value is
   * a Map of its own. On close the last value is the empty map; a subscriber after close gets it,
   * then completion.
   */
  readonly topics$: Observable<ReadonlyMap<string, TopicState>> = lastingState(this.topicsSubject)
  /**
   * Hot. The lifecycle: `'idle'` until `listen()` resolves, then `'listening'`, `'closing'` from
   * `close()`, `'closed'` once everything is released. Replays the current state; completes on close.
   */
  readonly state$: Observable<NetworkerState> = lastingState(this.stateSubject)
  /** Hot, no replay: operational errors (bad remote messages, replication, discovery). Completes on close. */
  readonly errors$: Observable<NetworkerError> = this.errorsSubject.asObservable()
  /**
   * Hot, no replay: every raw connection's `open` and `close`, before admission and dedup (so a
   * duplicate Hyperswarm resolves shows as an open and a close). Completes on close.
   */
  readonly connections$: Observable<ConnectionEvent<PeerStream>> = this.connectionsSubject.asObservable()

  constructor(store: CorestoreLike, opts: NetworkerOptions = {}) {
    if (store === null || typeof store !== 'object' || typeof store.replicate !== 'function') {
      throw errors.invalidOption('store', 'a Corestore', store)
    }
    validateOptions(opts)
    // The one place the structural store meets our private Corestore declarations.
    this.store = store as unknown as Corestore
    this.opts = { ...opts }
    this.hub = new ExtensionHub({
      maxMessageSize: opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      onerror: (err) => this.report(err)
    })
    this.subscriptions.add(this.peerEventsSubject.pipe(peerSet({ emitInitial: false })).subscribe(this.peersSubject))
  }

  /** The Noise public key of this networker, once it has listened or configured (else null). */
  get publicKey(): Buffer | null {
    return this.source ? this.source.publicKey : null
  }

  /** The current peers (what `peers$` last emitted), as NgRx's `StateObservable.value`. */
  get peers(): readonly Peer[] {
    return this.peersSubject.getValue()
  }

  /** The joined topics now (what `topics$` last emitted), a Map of its own. */
  get topics(): ReadonlyMap<string, TopicState> {
    return new Map(this.topicsSubject.getValue())
  }

  /**
   * Hot. One remote peer: emits it when it is (or becomes) connected and again on every swap (the
   * same object, with its new `stream`), and completes when it is removed or the networker closes.
   */
  peer$(remotePublicKey: Uint8Array | string): Observable<Peer> {
    const hex = toHex(toDiscoveryKey(remotePublicKey))
    return defer(() => {
      const current = this.peersByKey.get(hex)
      const events = this.peerEventsSubject.pipe(
        filter(({ peer }) => toHex(peer.remotePublicKey) === hex),
        takeWhile(({ type }) => type !== 'remove'),
        map(({ peer }): Peer => peer)
      )
      return current === undefined ? events : events.pipe(startWith<Peer>(current))
    })
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.closing !== null
  }

  /** The Noise key pair of every connection: the one passed in at once, the store-derived one once derived. */
  get keyPair(): KeyPairLike | null {
    return this.opts.keyPair ?? this.resolvedKeyPair
  }

  /** Derives the default key pair from the store now (memoized); `listen()` does it too. */
  loadKeyPair(): Promise<KeyPairLike> {
    this.keyPairLoad ??= (async () => {
      if (this.opts.keyPair) return this.opts.keyPair
      await this.store.ready()
      this.resolvedKeyPair = await this.store.createKeyPair(KEY_PAIR_NAME)
      return this.resolvedKeyPair
    })()
    return this.keyPairLoad
  }

  /** The Hyperswarm 4 instance, once listening or configuring (else null): for legacy callers. */
  get hyperswarm(): SwarmLike | null {
    return (this.source?.swarm as SwarmLike | undefined) ?? null
  }

  /** True once `listen()` has resolved (and still after close, as Holepunch's `opened`). */
  get opened(): boolean {
    return this.hasListened
  }

  /** Where the networker is in its life: the current value of `state$`. */
  get state(): NetworkerState {
    return this.stateSubject.getValue()
  }

  /**
   * Hot. The state of one topic: the current state on subscribe (not joined if unknown), then
   * every change. Completes on close.
   */
  topic$(discoveryKey: Uint8Array | string): Observable<TopicState> {
    const key = toDiscoveryKey(discoveryKey)
    return this.topicsSubject.pipe(
      map(() => this.currentState(key)),
      distinctUntilChanged(sameState)
    )
  }

  /** Whether the key is joined (announced and/or looked up). */
  joined(discoveryKey: Buffer | Uint8Array | string): boolean {
    return this.currentState(toDiscoveryKey(discoveryKey)).joined
  }

  /** Whether the key's discovery finished and the peers it found have connected or failed. */
  flushed(discoveryKey: Buffer | Uint8Array | string): boolean {
    return this.currentState(toDiscoveryKey(discoveryKey)).flushed
  }

  /** The configuration in force for a key, or null. */
  status(discoveryKey: Buffer | Uint8Array | string): TopicStatus | null {
    return this.statuses.get(toHex(toDiscoveryKey(discoveryKey))) ?? null
  }

  /** Every configuration in force. */
  allStatuses(): TopicStatus[] {
    return [...this.statuses.values()]
  }

  /** Starts accepting connections and restores remembered configurations in the background. Memoized. */
  listen(): Promise<void> {
    if (this.closing) return Promise.reject(errors.closed('listen'))
    this.listening ??= this.open().then(async (source) => {
      await source.listen()
      this.hasListened = true
      if (!this.closing) this.stateSubject.next('listening')
      if (this.opts.restore !== false) this.restoreRemembered()
    })
    return this.listening
  }

  /**
   * Joins, refreshes or leaves a topic; see the README for the full semantics. Calls for one key
   * apply in call order; the promise resolves with the state the call produced.
   */
  async configure(discoveryKey: Buffer | Uint8Array | string, opts: ConfigureOptions = {}): Promise<TopicState> {
    if (this.closing) throw errors.closed('configure')
    const key = toDiscoveryKey(discoveryKey)
    const config = validateConfigure(opts)
    // At once, before any await: a core.update() called right after configure() already waits.
    const release = config.lookup ? this.trackFindingPeers(key) : null
    try {
      await this.listen()
      return await this.apply(key, config, true)
    } catch (err) {
      release?.()
      throw err
    }
  }

  /**
   * Registers a stream-level extension (one Protomux channel per connection). Registering a name
   * twice shares the channel; each incoming message goes to the earliest registration alive.
   */
  registerExtension(name: string, opts?: { encoding?: 'binary' }): Extension<Buffer>
  registerExtension(name: string, opts: { encoding: 'utf-8' | 'utf8' }): Extension<string>
  registerExtension<T = unknown>(name: string, opts: { encoding: 'json' }): Extension<T>
  registerExtension<T>(name: string, opts: { encoding: Encoding<T> }): Extension<T>
  registerExtension<T>(name: string, opts: { encoding?: Encoding<T> } = {}): Extension<T> {
    if (this.closing) throw errors.closed('registerExtension')
    if (opts === null || typeof opts !== 'object') throw errors.invalidOption('opts', 'an object', opts)
    return this.hub.register(name, resolveEncoding<T>(opts.encoding))
  }

  /** Hot, no replay: the messages of an extension with the peer each came from. */
  messages$<T>(extension: Extension<T>): Observable<ExtensionMessage<T>> {
    const messages = (extension as Partial<Extension<T>> | null)?.messages$
    if (!isObservable(messages)) {
      throw errors.invalidOption('extension', 'an Extension returned by registerExtension', extension)
    }
    return messages
  }

  /**
   * @internal Puts an operational error on `errors$` (used by the legacy facade for errors of
   * the handlers it calls).
   */
  report(err: NetworkerError): void {
    if (!this.errorsSubject.closed) this.errorsSubject.next(err)
  }

  /** Closes every connection (peers see us leave at once) and completes every stream. Memoized. */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    // From here on every new connection is refused (firewall) or closed on arrival.
    this.shuttingDown = true
    this.stateSubject.next('closing')
    this.statuses.clear()
    // Emits every topic's final "left" state and the empty map on topics$.
    this.topicsManager?.close()
    try {
      await this.opening
    } catch {
      // a failed open leaves nothing to close but the streams
    }
    if (this.source !== null) {
      await this.source.destroy().catch((err: unknown) => this.errorsSubject.next(errors.discovery('swarm', err)))
    } else if (this.opts.dht) {
      await this.opts.dht.destroy().catch(() => {})
    }
    this.hub.destroy()
    await this.configStore?.close().catch(() => {})
    this.subscriptions.unsubscribe()
    this.peerEventsSubject.complete()
    this.peersSubject.complete()
    this.topicsSubject.complete()
    this.errorsSubject.complete()
    this.connectionsSubject.complete()
    this.stateSubject.next('closed')
    this.stateSubject.complete()
  }

  private currentState(key: Buffer): TopicState {
    return this.topicsManager?.state(key) ?? notJoined(key)
  }

  private open(): Promise<SwarmSource> {
    this.opening ??= this.createSwarm()
    return this.opening
  }

  private async createSwarm(): Promise<SwarmSource> {
    await this.store.ready()
    const keyPair = await this.loadKeyPair()
    if (this.closing) throw errors.closed('listen')
    const firewall = this.firewall()
    const { dht, bootstrap, maxPeers, maxClientConnections, maxServerConnections, maxParallel } = this.opts
    const source = createSwarmSource({
      keyPair,
      dht,
      bootstrap,
      maxPeers,
      maxClientConnections,
      maxServerConnections,
      maxParallel,
      firewall: (remotePublicKey, payload) => this.shuttingDown || (firewall !== null && firewall(remotePublicKey, payload)),
      onerror: (err, conn) => this.errorsSubject.next(errors.connection(toHex(conn.remotePublicKey), err)),
      pending: () => this.authenticating
    })
    this.source = source
    const topics = new Topics({
      source,
      onerror: (err) => this.errorsSubject.next(err),
      settle: (key) => this.replicationSettled(key),
      relookupBackoff: this.opts.relookupBackoff,
      scheduler: this.opts.scheduler
    })
    this.topicsManager = topics
    // Topics starts from the same empty map topics$ already holds: pass on changes only.
    this.subscriptions.add(topics.topics$.pipe(skip(1)).subscribe((states) => this.topicsSubject.next(states)))
    this.subscriptions.add(
      source.connections$
        .pipe(
          // Keep-alive and idle time-out belong to every connection from its first moment, so
          // a half-open or mute one times out even before (or without) becoming a peer.
          tap((event) => {
            if (event.type === 'open') {
              guardConnection(event.connection, { timeout: this.opts.timeout ?? 0, onerror: (err) => this.report(err) })
            }
            this.connectionsSubject.next(event)
          }),
          mergeMap((event) => this.authenticate(event)),
          dedupeConnections<NoiseSecretStream>({
            graceTime: this.opts.dedupeGraceTime,
            scheduler: this.opts.scheduler ?? asyncScheduler
          })
        )
        .subscribe((event) => this.onPeerEvent(event))
    )
    return source
  }

  /** The `allowlist` and the caller's `firewall` as one Hyperswarm firewall (null: allow all). */
  private firewall(): ((remotePublicKey: Buffer, payload: unknown) => boolean) | null {
    const { allowlist, firewall } = this.opts
    if (allowlist === undefined) return firewall ?? null
    const allowed = new Set(allowlist.map((key) => toHex(toDiscoveryKey(key))))
    return (remotePublicKey, payload) =>
      !allowed.has(toHex(remotePublicKey)) || (firewall !== undefined && firewall(remotePublicKey, payload))
  }

  /** Holds a new connection until `onauthenticate` accepts it; refused ones are closed. */
  private authenticate(event: ConnectionEvent<NoiseSecretStream>): Observable<ConnectionEvent<NoiseSecretStream>> {
    const check = this.opts.onauthenticate
    if (check === undefined || event.type === 'close') return of(event)
    const conn = event.connection
    // Until the decision, the connection counts as dialling: no topic is flushed before it.
    this.authenticating++
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
        this.errorsSubject.next(errors.callbackThrew('onauthenticate', toHex(conn.remotePublicKey), err))
        done(err instanceof Error ? err : new Error(String(err)))
      }
    })
    return from(decision.then(() => event)).pipe(
      mergeMap((accepted) => (conn.destroyed || this.closing ? EMPTY : of(accepted))),
      catchError((err: unknown) => {
        this.errorsSubject.next(errors.authentication(toHex(conn.remotePublicKey), err))
        conn.destroy()
        return EMPTY
      }),
      // After the admitted connection went through dedup (so it is in peers$).
      finalize(() => {
        this.authenticating--
        this.source?.update()
      })
    )
  }

  private onPeerEvent(event: DedupeEvent<NoiseSecretStream>): void {
    if (this.shuttingDown && (event.type === 'add' || event.type === 'swap')) {
      event.connection.destroy()
      if (event.type === 'add') return
    }
    switch (event.type) {
      case 'add': {
        if (this.peersByKey.size >= (this.opts.maxPeers ?? DEFAULT_MAX_PEERS)) {
          // Hyperswarm 4.17 checks maxPeers only when it dials: inbound connections are ours to
          // refuse. The dedup state forgets the connection when it closes.
          event.connection.destroy()
          return
        }
        const peer = new PeerRecord(Buffer.from(event.connection.remotePublicKey), event.connection)
        this.peersByKey.set(event.key, peer)
        this.hub.attach(peer)
        this.replicate(event.connection, event.key)
        this.peerEventsSubject.next({ type: 'add', peer })
        return
      }
      case 'swap': {
        const peer = this.peersByKey.get(event.key)
        if (peer === undefined) return
        peer.swapTo(event.connection)
        this.hub.swap(peer)
        this.replicate(event.connection, event.key)
        this.peerEventsSubject.next({ type: 'swap', peer })
        return
      }
      case 'remove': {
        const peer = this.peersByKey.get(event.key)
        if (peer === undefined) return
        this.peersByKey.delete(event.key)
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
    if (this.closing || conn.destroyed) return
    try {
      this.store.replicate(conn)
    } catch (err) {
      this.errorsSubject.next(errors.replication(key, err))
    }
  }

  /** The remote keys of the connected peers that Hyperswarm found through this topic. */
  private peersFoundFor(key: Buffer): Buffer[] {
    const source = this.source
    if (source === null) return []
    const found: Buffer[] = []
    for (const peer of this.peersByKey.values()) {
      if (source.topicsOf(peer.remotePublicKey).some((topic) => b4a.equals(topic, key))) found.push(peer.remotePublicKey)
    }
    return found
  }

  /**
   * Completes once every peer found for the topic has opened the replication session of the
   * topic's core (at once when no core of that discovery key is open), or after
   * `replicationWait` ms.
   */
  private replicationSettled(key: Buffer): Observable<never> {
    const opened = (): boolean => replicationOpened(this.store, key, this.peersFoundFor(key))
    const bound = this.opts.replicationWait ?? DEFAULT_REPLICATION_WAIT
    const scheduler = this.opts.scheduler ?? asyncScheduler
    return defer(() =>
      opened() || bound === 0
        ? EMPTY
        : timer(REPLICATION_POLL_MS, REPLICATION_POLL_MS, scheduler).pipe(
            takeWhile(() => !opened()),
            ignoreElements(),
            takeUntil(timer(bound, scheduler))
          )
    )
  }

  /**
   * Ties a lookup to Hypercore's `findingPeers()`: while the topic's first discovery runs,
   * `update()`/`get()` on the core of that discovery key wait for it instead of answering "no
   * peers". Released once the topic is flushed or left, or on close.
   */
  private trackFindingPeers(key: Buffer): () => void {
    const done = findingPeersFor(this.store, key)
    this.subscriptions.add(
      this.topic$(key)
        .pipe(
          // The state before this configuration took effect does not count.
          skipWhile((state) => !state.joined),
          filter((state) => state.flushed || !state.joined),
          first(),
          finalize(done)
        )
        .subscribe({ error: () => {} })
    )
    return done
  }

  private async apply(
    key: Buffer,
    config: { announce: boolean; lookup: boolean; flush: boolean; remember: boolean | undefined },
    fromCaller: boolean
  ): Promise<TopicState> {
    const topics = this.topicsManager
    if (topics === null || this.closing) throw errors.closed('configure')
    const hex = toHex(key)
    if (fromCaller) this.callerKeys.add(hex)
    // Runs in the key's queue, right before the call is applied, and alongside the discovery it
    // starts: `status()` is set at once (it shows the configuration in force, not one still
    // waiting its turn); what is remembered is settled while the swarm works.
    const settle = async (): Promise<void> => {
      const joining = config.announce || config.lookup
      const known = this.statuses.get(hex)
      const status = (remember: boolean): void => {
        if (joining) this.statuses.set(hex, { discoveryKey: key, announce: config.announce, lookup: config.lookup, remember })
        else this.statuses.delete(hex)
      }
      let remember = joining ? (config.remember ?? known?.remember ?? false) : false
      status(remember)
      let wasRemembered = known?.remember ?? false
      if (fromCaller && known === undefined && config.remember === undefined) {
        // A remembered key the background restore has not reached yet is remembered all the same.
        const stored = await this.rememberedKeys().catch(() => null)
        wasRemembered = stored?.has(hex) ?? false
        if (wasRemembered && joining) {
          remember = true
          status(true)
        }
      }
      if (fromCaller && (remember || wasRemembered || config.remember === false)) {
        await this.persist(key, { announce: config.announce, lookup: config.lookup, remember })
      }
    }
    return topics.configure(key, config, settle)
  }

  private async persist(key: Buffer, config: RememberedConfig & { remember: boolean }): Promise<void> {
    try {
      this.configStore ??= new ConfigStore(this.store)
      const remembered = await this.rememberedKeys()
      if (config.remember && (config.announce || config.lookup)) {
        await this.configStore.put(key, config)
        remembered.set(toHex(key), { discoveryKey: key, announce: config.announce, lookup: config.lookup })
      } else {
        await this.configStore.delete(key)
        remembered.delete(toHex(key))
      }
    } catch (err) {
      this.errorsSubject.next(errors.configStore('write', err))
    }
  }

  /** What is remembered on disk: read once, then kept in step by `persist`. */
  private rememberedKeys(): Promise<Map<string, RememberedConfig & { discoveryKey: Buffer }>> {
    this.rememberedAtStart ??= ConfigStore.list(this.store).then(
      (list) => new Map(list.map((config) => [toHex(config.discoveryKey), config]))
    )
    return this.rememberedAtStart
  }

  private restoreRemembered(): void {
    const restore = async (): Promise<void> => {
      const remembered = await this.rememberedKeys()
      for (const { discoveryKey, announce, lookup } of [...remembered.values()]) {
        if (this.closing) return
        const hex = toHex(discoveryKey)
        if (this.callerKeys.has(hex)) continue
        await this.apply(discoveryKey, { announce, lookup, flush: false, remember: true }, false)
      }
    }
    restore().catch((err: unknown) => {
      if (!this.closing) this.errorsSubject.next(errors.configStore('restore', err))
    })
  }
}

function validateOptions(opts: NetworkerOptions): void {
  if (opts === null || typeof opts !== 'object') throw errors.invalidOption('opts', 'an object', opts)
  const positive = (name: 'timeout' | 'maxMessageSize' | 'dedupeGraceTime' | 'maxPeers' | 'replicationWait'): void => {
    const value = opts[name]
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
      throw errors.invalidOption(name, 'a non-negative number', value)
    }
  }
  positive('timeout')
  positive('maxMessageSize')
  if (opts.maxMessageSize !== undefined && opts.maxMessageSize > MAX_MESSAGE_SIZE_LIMIT) {
    throw errors.invalidOption('maxMessageSize', `at most ${MAX_MESSAGE_SIZE_LIMIT} bytes (the transport's frame limit)`, opts.maxMessageSize)
  }
  positive('dedupeGraceTime')
  positive('maxPeers')
  positive('replicationWait')
  if (opts.keyPair !== undefined) {
    const kp = opts.keyPair
    if (
      kp === null ||
      typeof kp !== 'object' ||
      !(kp.publicKey instanceof Uint8Array) ||
      kp.publicKey.byteLength !== 32 ||
      !(kp.secretKey instanceof Uint8Array) ||
      kp.secretKey.byteLength !== 64
    ) {
      throw errors.invalidOption('keyPair', 'a { publicKey: 32 bytes, secretKey: 64 bytes } key pair', kp)
    }
  }
  if (opts.allowlist !== undefined) {
    if (!Array.isArray(opts.allowlist)) throw errors.invalidOption('allowlist', 'an array of keys', opts.allowlist)
    for (const key of opts.allowlist) {
      try {
        toDiscoveryKey(key)
      } catch {
        throw errors.invalidOption('allowlist', 'an array of 32-byte or 64-hex keys', key)
      }
    }
  }
  for (const name of ['firewall', 'onauthenticate'] as const) {
    if (opts[name] !== undefined && typeof opts[name] !== 'function') {
      throw errors.invalidOption(name, 'a function', opts[name])
    }
  }
}

function validateConfigure(opts: ConfigureOptions): {
  announce: boolean
  lookup: boolean
  flush: boolean
  remember: boolean | undefined
} {
  if (opts === null || typeof opts !== 'object') throw errors.invalidOption('opts', 'an object', opts)
  for (const name of ['announce', 'lookup', 'flush', 'remember'] as const) {
    if (opts[name] !== undefined && typeof opts[name] !== 'boolean') {
      throw errors.invalidOption(name, 'a boolean', opts[name])
    }
  }
  return {
    announce: opts.announce ?? true,
    lookup: opts.lookup ?? true,
    flush: opts.flush ?? true,
    remember: opts.remember
  }
}
