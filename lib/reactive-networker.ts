import type Corestore from 'corestore'
import { BehaviorSubject, Observable, Subject, Subscription, asyncScheduler, distinctUntilChanged, isObservable } from 'rxjs'
import { sameState } from '../operators/topicState'
import type { ConnectionEvent, TopicState } from '../operators/types'
import { Connections } from './connections'
import { replicationSettled, trackFindingPeers } from './core-replication'
import { Encoding, resolveEncoding } from './encodings'
import { NetworkerError, errors } from './errors'
import { ExtensionHub, Extension, ExtensionMessage, DEFAULT_MAX_MESSAGE_SIZE } from './extensions'
import { KeyPairLoader } from './key-pair'
import { Metrics } from './metrics'
import type { CoreProgress, MetricsOptions, NetworkerMetrics } from './metrics'
import { TopicKey, toTopicKey } from './keys'
import { validateConfigure, validateOptions } from './options'
import type { ConfigureOptions, ConfigureRequest, NetworkerOptions, NetworkerState, TopicStatus } from './options'
import type { Peer, PeerStream } from './peer'
import { Remembered } from './remembered'
import { Session } from './session'
import type { CorestoreLike, HypercoreLike, KeyPairLike, SwarmLike } from './stack-types'
import { lastingState } from './state-stream'
import type { NetworkerPeerEvent, NetworkerStreams } from './streams'
import { Topics } from './topics'
export type { NetworkerPeerEvent } from './streams'
export type { ConfigureOptions, NetworkerOptions, NetworkerState, TopicStatus } from './options'
export { KEY_PAIR_NAME } from './key-pair'

/** Default bound (ms) on waiting, before a topic counts as flushed, for its peers to open the core's replication. */
export const DEFAULT_REPLICATION_WAIT = 5000

/**
 * The reactive networking layer of a Corestore: discovery on the HyperDHT through Hyperswarm,
 * one Noise connection per remote peer, all-to-all replication, and extension messages, with
 * everything that changes over time as a hot Observable.
 *
 * A composition root: the constructor creates the parts that exist from the start (extensions,
 * connections, topics, remembered configurations); `listen()` opens one `Session` (the swarm with
 * the connection pipeline attached), which the topics reach through a promise of it.
 */
export class ReactiveNetworker implements NetworkerStreams {
  private readonly store: Corestore
  private readonly opts: NetworkerOptions
  private readonly errorsSubject = new Subject<NetworkerError>()
  private readonly stateSubject = new BehaviorSubject<NetworkerState>('idle')
  private readonly keyPairs: KeyPairLoader
  private hasListened = false
  /** Each configure's tie to Hypercore's `findingPeers()` while its discovery runs. */
  private readonly finding = new Subscription()
  private readonly hub: ExtensionHub
  private readonly remembered: Remembered
  private readonly connections: Connections
  /** The one owner of topic state (`topics$`, `topic$`, `joined`, `flushed`). */
  private readonly topicRegistry: Topics
  /** Samples what the other parts expose (`metrics$`, `metrics()`, `progress$`). */
  private readonly meter: Metrics
  /** The session `listen()` opened (null before), and the memoized steps of the lifecycle. */
  private session: Session | null = null
  private opening: Promise<Session> | null = null
  private listening: Promise<void> | null = null
  private closing: Promise<void> | null = null

  /**
   * Hot. The current peers on subscribe (a frozen array), then after every add or remove.
   * Completes on close; a subscriber after close gets the last value, then completion. Never errors.
   */
  readonly peers$: Observable<readonly Peer[]>
  /** Hot, no replay: `add`, `remove`, and `swap` (same Peer, new stream) events. Completes on close. */
  readonly peerEvents$: Observable<NetworkerPeerEvent>
  /**
   * Hot. The joined topics (key: hex discovery key) on subscribe, then every change. A copy per
   * subscriber: every value is a new Map for that subscriber alone (its `set`/`delete` reach no one
   * else); the states in it are frozen. On close the last value is the empty map; a subscriber
   * after close gets it, then completion.
   */
  readonly topics$: Observable<ReadonlyMap<string, TopicState>>
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
    validateOptions(store, opts)
    // The one place the structural store meets our private Corestore declarations.
    this.store = store as unknown as Corestore
    this.opts = { ...opts }
    this.keyPairs = new KeyPairLoader(this.store, opts.keyPair)
    this.remembered = new Remembered(this.store, (err) => this.report(err))
    this.hub = new ExtensionHub({
      maxMessageSize: opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      onerror: (err) => this.report(err)
    })
    this.connections = new Connections(this.store, this.hub, this.opts, (err) => this.report(err))
    const scheduler = this.opts.scheduler ?? asyncScheduler
    const replicationWait = this.opts.replicationWait ?? DEFAULT_REPLICATION_WAIT
    this.topicRegistry = new Topics({
      source: () => this.open().then((session) => session.source),
      onerror: (err) => this.report(err),
      settle: (key) => replicationSettled(this.store, key, () => this.connections.peersFoundFor(key), replicationWait, scheduler),
      relookupBackoff: this.opts.relookupBackoff,
      scheduler: this.opts.scheduler,
      degree: () => ({ saturated: this.connections.saturated, minimum: this.connections.minimumPeers, slots: this.connections.slots })
    })
    this.peers$ = lastingState(this.connections.peersState)
    this.peerEvents$ = this.connections.peerEvents$
    this.connections$ = this.connections.connections$
    this.topics$ = this.topicRegistry.topics$
    this.meter = new Metrics({
      store: this.store,
      scheduler,
      peerEvents$: this.connections.peerEvents$,
      extensions: this.hub,
      connections: this.connections,
      swarm: () => this.session?.source.counters() ?? null,
      joinedTopics: () => {
        const joined = new Set<string>()
        for (const [key, state] of this.topicRegistry.snapshot()) if (state.joined) joined.add(key)
        return joined
      }
    })
  }

  /** The Noise public key of this networker, once it has listened or configured (else null). */
  get publicKey(): Buffer | null {
    return this.session?.publicKey ?? null
  }

  /** The current peers (what `peers$` last emitted), as NgRx's `StateObservable.value`. */
  get peers(): readonly Peer[] {
    return this.connections.peersState.getValue()
  }

  /** The joined topics now (what `topics$` last emitted), a new Map (a copy) on every read. */
  get topics(): ReadonlyMap<string, TopicState> {
    return this.topicRegistry.snapshot()
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
    return this.keyPairs.current
  }

  /** Derives the default key pair from the store now (memoized); `listen()` does it too. */
  loadKeyPair(): Promise<KeyPairLike> {
    return this.keyPairs.load()
  }

  /** The Hyperswarm 4 instance, once listening or configuring (else null): for legacy callers. */
  get hyperswarm(): SwarmLike | null {
    return this.session?.swarm ?? null
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
   * every change. Completes on close; a subscriber after close gets the last state, then completion.
   */
  topic$(discoveryKey: Uint8Array | string): Observable<TopicState> {
    return this.topicRegistry.topic$(toTopicKey(discoveryKey)).pipe(distinctUntilChanged(sameState))
  }

  /** Whether the key is joined (announced and/or looked up). */
  joined(discoveryKey: Buffer | Uint8Array | string): boolean {
    return this.topicRegistry.state(toTopicKey(discoveryKey)).joined
  }

  /** Whether the key's discovery finished and the peers it found have connected or failed. */
  flushed(discoveryKey: Buffer | Uint8Array | string): boolean {
    return this.topicRegistry.state(toTopicKey(discoveryKey)).flushed
  }

  /** The configuration in force for a key, or null. */
  status(discoveryKey: Buffer | Uint8Array | string): TopicStatus | null {
    return this.remembered.status(toTopicKey(discoveryKey))
  }

  /** Every configuration in force. */
  allStatuses(): TopicStatus[] {
    return this.remembered.all()
  }

  /** Starts accepting connections and restores remembered configurations in the background. Memoized. */
  listen(): Promise<void> {
    if (this.closing) return Promise.reject(errors.closed('listen'))
    this.listening ??= this.open().then(async (session) => {
      await session.listen()
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
    const id = toTopicKey(discoveryKey)
    const config = validateConfigure(opts)
    // At once, before any await: a core.update() called right after configure() already waits.
    const finding = config.lookup ? trackFindingPeers(this.store, id.key, this.topicRegistry.topic$(id)) : Subscription.EMPTY
    this.finding.add(finding)
    try {
      await this.listen()
      return await this.apply(id, config, true)
    } catch (err) {
      finding.unsubscribe()
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

  /**
   * Hot, shared per interval: samples of the peers (traffic, rates, round-trip time, extension and
   * replication traffic), the cores being replicated (lengths, progress, traffic, ETA), the swarm
   * and the DHT, every `interval` ms (default 1000, at least 100; else `ERR_INVALID_OPTION`).
   * Subscribers of one interval share one sampler, and one that joins gets the latest sample at
   * once. While nobody subscribes it costs no timer and no listener. Each value is frozen and
   * JSON-friendly. Completes on close (at once after it); never errors.
   */
  metrics$(opts?: MetricsOptions): Observable<NetworkerMetrics> {
    return this.meter.metrics$(opts)
  }

  /**
   * One sample now, the same shape as `metrics$`'s: while a `metrics$` sample is being emitted (in
   * a subscriber's callback) or in the millisecond it was taken, that sample itself; else a new
   * one, its rates measured from the latest sample any stream or call took. Block counts need a
   * `metrics$` subscriber (see the README).
   */
  metrics(): NetworkerMetrics {
    return this.meter.snapshot()
  }

  /**
   * Hot, event-driven: one core's replication progress (`length`, `contiguousLength`,
   * `remoteLength`, `peers`, `progress`, `synced`), the current value on subscribe, then after
   * Hypercore's download/upload/append/peer events, throttled (at most one per 100 ms, the last
   * state always emitted), only changes. `synced` is true exactly when the core holds everything
   * its connected peers have. Completes when the core closes, or the networker does. A value that
   * is not a Hypercore session: `ERR_INVALID_OPTION`.
   */
  progress$(core: HypercoreLike): Observable<CoreProgress> {
    return this.meter.progress$(core)
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
    this.topicRegistry.close()
    // A failed open leaves nothing to close but the DHT node the caller gave, and the streams.
    const session = await this.opening?.catch(() => null)
    if (session) await session.destroy().catch((err: unknown) => this.report(errors.discovery('swarm', err)))
    else await this.opts.dht?.destroy().catch(() => {})
    this.hub.destroy()
    await this.remembered.close()
    this.finding.unsubscribe()
    this.connections.close()
    this.meter.close()
    this.errorsSubject.complete()
    this.stateSubject.next('closed')
    this.stateSubject.complete()
  }

  private open(): Promise<Session> {
    this.opening ??= Session.open(this.store, this.keyPairs, () => this.closed, {
      opts: this.opts,
      connections: this.connections,
      onerror: (err) => this.report(err)
    }).then((session) => (this.session = session))
    return this.opening
  }

  private apply(id: TopicKey, config: ConfigureRequest, fromCaller: boolean): Promise<TopicState> {
    if (this.closing) return Promise.reject(errors.closed('configure'))
    return this.topicRegistry.configure(id, config, this.remembered.settle(id, config, fromCaller))
  }
}
