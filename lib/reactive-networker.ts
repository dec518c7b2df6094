import type Corestore from 'corestore'
import {
  BehaviorSubject,
  Observable,
  Subject,
  Subscription,
  asyncScheduler,
  defer,
  filter,
  isObservable,
  skip,
  takeWhile,
  distinctUntilChanged,
  map,
  from,
  of,
  EMPTY,
  finalize,
  first,
  ignoreElements,
  skipWhile,
  takeUntil,
  timer
} from 'rxjs'
import { sameState } from '../operators/topicState'
import type { ConnectionEvent, TopicState } from '../operators/types'
import { NetworkerError, errors } from './errors'
import { toDiscoveryKey, toHex } from './keys'
import { createSwarmSource, SwarmSource } from './swarm-source'
import { Topics, notJoined } from './topics'
import { ExtensionHub, Extension, ExtensionMessage, DEFAULT_MAX_MESSAGE_SIZE } from './extensions'
import { Encoding, resolveEncoding } from './encodings'
import type { Peer } from './peer'
import { Connections } from './connections'
import { Remembered } from './remembered'
import type { NetworkerPeerEvent, NetworkerStreams } from './streams'
export type { NetworkerPeerEvent } from './streams'
import type { CorestoreLike, KeyPairLike, SwarmLike } from './stack-types'
import { validateConfigure, validateOptions } from './options'
import type { ConfigureOptions, ConfigureRequest, NetworkerOptions, NetworkerState, TopicStatus } from './options'
import { lastingState } from './state-stream'
export type { ConfigureOptions, NetworkerOptions, NetworkerState, TopicStatus } from './options'
import type { PeerStream } from './peer'
import { findingPeersFor, replicationOpened } from './core-replication'

/** The name under which the default Noise key pair is derived from the store. */
export const KEY_PAIR_NAME = '@basestore/networker'

/** Default bound (ms) on waiting, before a topic counts as flushed, for its peers to open the core's replication. */
export const DEFAULT_REPLICATION_WAIT = 5000
/** How often (ms) that wait looks at the core's peers. */
const REPLICATION_POLL_MS = 10


/**
 * The reactive networking layer of a Corestore: discovery on the HyperDHT through Hyperswarm,
 * one Noise connection per remote peer, all-to-all replication, and extension messages, with
 * everything that changes over time as a hot Observable.
 */
export class ReactiveNetworker implements NetworkerStreams {
  private readonly store: Corestore
  private readonly opts: NetworkerOptions
  private readonly errorsSubject = new Subject<NetworkerError>()
  private readonly topicsSubject = new BehaviorSubject<ReadonlyMap<string, TopicState>>(new Map())
  private readonly stateSubject = new BehaviorSubject<NetworkerState>('idle')
  private resolvedKeyPair: KeyPairLike | null = null
  private keyPairLoad: Promise<KeyPairLike> | null = null
  private hasListened = false
  private readonly subscriptions = new Subscription()
  private readonly hub: ExtensionHub
  private readonly remembered: Remembered
  private source: SwarmSource | null = null
  private topicsManager: Topics | null = null
  private opening: Promise<SwarmSource> | null = null
  private listening: Promise<void> | null = null
  private closing: Promise<void> | null = null
  private readonly connections: Connections

  /**
   * Hot. The current peers on subscribe (a frozen array), then after every add or remove.
   * Completes on close; a subscriber after close gets the last value, then completion. Never errors.
   */
  readonly peers$: Observable<readonly Peer[]>
  /** Hot, no replay: `add`, `remove`, and `swap` (same Peer, new stream) events. Completes on close. */
  readonly peerEvents$: Observable<NetworkerPeerEvent>
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
  readonly connections$: Observable<ConnectionEvent<PeerStream>>

  constructor(store: CorestoreLike, opts: NetworkerOptions = {}) {
    if (store === null || typeof store !== 'object' || typeof store.replicate !== 'function') {
      throw errors.invalidOption('store', 'a Corestore', store)
    }
    validateOptions(opts)
    // The one place the structural store meets our private Corestore declarations.
    this.store = store as unknown as Corestore
    this.opts = { ...opts }
    this.remembered = new Remembered(this.store, (err) => this.report(err))
    this.hub = new ExtensionHub({
      maxMessageSize: opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      onerror: (err) => this.report(err)
    })
    this.connections = new Connections(this.store, this.hub, this.opts, (err) => this.report(err))
    this.peers$ = lastingState(this.connections.peersState)
    this.peerEvents$ = this.connections.peerEvents$
    this.connections$ = this.connections.connections$
  }

  /** The Noise public key of this networker, once it has listened or configured (else null). */
  get publicKey(): Buffer | null {
    return this.source ? this.source.publicKey : null
  }

  /** The current peers (what `peers$` last emitted), as NgRx's `StateObservable.value`. */
  get peers(): readonly Peer[] {
    return this.connections.peersState.getValue()
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
    return this.connections.peer$(remotePublicKey)
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
    return this.remembered.status(toHex(toDiscoveryKey(discoveryKey)))
  }

  /** Every configuration in force. */
  allStatuses(): TopicStatus[] {
    return this.remembered.all()
  }

  /** Starts accepting connections and restores remembered configurations in the background. Memoized. */
  listen(): Promise<void> {
    if (this.closing) return Promise.reject(errors.closed('listen'))
    this.listening ??= this.open().then(async (source) => {
      await source.listen()
      this.hasListened = true
      if (!this.closing) this.stateSubject.next('listening')
      if (this.opts.restore !== false) {
        this.remembered.restore((key, config) => this.apply(key, config, false), () => this.closing !== null)
      }
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

  /** Puts an operational error on `errors$` (the one way errors of every part reach it). */
  private report(err: NetworkerError): void {
    if (!this.errorsSubject.closed) this.errorsSubject.next(err)
  }

  /** Closes every connection (peers see us leave at once) and completes every stream. Memoized. */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    // From here on every new connection is refused (firewall) or closed on arrival.
    this.connections.refuse()
    this.stateSubject.next('closing')
    this.remembered.clear()
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
    await this.remembered.close()
    this.subscriptions.unsubscribe()
    this.connections.close()
    this.topicsSubject.complete()
    this.errorsSubject.complete()
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
    const { dht, bootstrap, maxPeers, maxClientConnections, maxServerConnections, maxParallel } = this.opts
    const source = createSwarmSource({
      keyPair,
      dht,
      bootstrap,
      maxPeers,
      maxClientConnections,
      maxServerConnections,
      maxParallel,
      firewall: this.connections.firewall(),
      onerror: (err, conn) => this.errorsSubject.next(errors.connection(toHex(conn.remotePublicKey), err)),
      pending: () => this.connections.pending
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
    this.connections.attach(source)
    return source
  }

  /**
   * Completes once every peer found for the topic has opened the replication session of the
   * topic's core (at once when no core of that discovery key is open), or after
   * `replicationWait` ms.
   */
  private replicationSettled(key: Buffer): Observable<never> {
    const opened = (): boolean => replicationOpened(this.store, key, this.connections.peersFoundFor(key))
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

  private apply(key: Buffer, config: ConfigureRequest, fromCaller: boolean): Promise<TopicState> {
    const topics = this.topicsManager
    if (topics === null || this.closing) return Promise.reject(errors.closed('configure'))
    return topics.configure(key, config, this.remembered.settle(key, config, fromCaller))
  }
}
