import { EventEmitter } from 'events'
import type { CorestoreLike, KeyPairLike, SwarmLike } from './stack-types'
import { Subscription } from 'rxjs'
import { topicEvents } from '../operators/topicEvents'
import { ErrorCodes, NetworkerError, errors } from './errors'
import { handledByOnerror, registerLegacyExtension, surfaceError } from './legacy'
import type {
  LegacyConfigureOptions,
  LegacyExtension,
  LegacyExtensionHandlers,
  LegacyNetworkerOptions,
  LegacyStatus,
  LegacyStreamInfo,
  NodeCallback
} from './legacy'
import type { Peer, PeerStream } from './peer'
import { toDiscoveryKey, toHex } from './keys'
import { ReactiveNetworker } from './reactive-networker'


/** Error codes that 1.x reported as `'replication-error'` (a connection or its replication failed). */
const REPLICATION_CODES: ReadonlySet<string> = new Set([ErrorCodes.ERR_CONNECTION, ErrorCodes.ERR_REPLICATION])

/**
 * The API of the old `@corestore/networker`, for legacy callers: promises, a live `peers` Set and
 * events. It owns a `ReactiveNetworker` and only maps its streams onto events and promises. What
 * it keeps is a projection of the core (`peers` and `streams`, the live Sets 1.x handed out, kept
 * in step by one subscription) and the options each caller passed, which 1.x's `status()` echoed.
 *
 * Events: `peer-add` (peer), `peer-remove` (peer), `handshake` (stream), `stream-opened`
 * (stream, info), `stream-closed` (stream, info, finishedHandshake), `replication-error` (err),
 * and, only when someone listens, `joined` (discoveryKey), `flushed` (discoveryKey), `error`
 * (err). Each error is reported once, to the most specific taker: an extension's `onerror` (an
 * error it handled goes nowhere else), else `replication-error`/`error` when someone listens, else
 * `process.emitWarning`, once per kind.
 */
export class Networker extends EventEmitter {
  /** The reactive networker behind this facade (use it to migrate piecemeal). */
  readonly reactive: ReactiveNetworker
  /** The connected peers: one live Set, the same object on every read, updated before `peer-add`/`peer-remove`. */
  readonly peers: Set<Peer> = new Set()
  /** The connections of the connected peers (Noise secret streams): one live Set, as `peers`. */
  readonly streams: Set<PeerStream> = new Set()
  private readonly subscription = new Subscription()
  private readonly persistRemembered: boolean
  private readonly callerOptions = new Map<string, LegacyStatus>()
  /** Streams that carried a peer (for `stream-closed`'s `finishedHandshake`). */
  private readonly handshaken = new WeakSet<PeerStream>()

  constructor(store: CorestoreLike, opts: LegacyNetworkerOptions = {}) {
    super()
    if (opts === null || typeof opts !== 'object') throw errors.invalidOption('opts', 'an object', opts)
    const { persistRemembered = false, swarm, id, ...rest } = opts
    if (swarm !== undefined) {
      throw errors.unsupported(
        'The "swarm" option',
        'the networker creates its own Hyperswarm 4; a hyperswarm 2 (or hyperswarm-web) instance cannot carry Hypercore 11 replication. Pass Hyperswarm options (dht, bootstrap, …) instead'
      )
    }
    if (opts.keyPair && opts.keyPair.secretKey instanceof Uint8Array && opts.keyPair.secretKey.byteLength === 32) {
      throw errors.unsupported(
        'An X25519 keyPair (32-byte secretKey, from hypercore-protocol 8 / noise-network)',
        'Hyperswarm 4 authenticates with ed25519 keys: pass { publicKey: 32 bytes, secretKey: 64 bytes }, for example from hypercore-crypto keyPair(), or leave keyPair out to derive one from the store'
      )
    }
    this.persistRemembered = persistRemembered === true
    if (id !== undefined) {
      // Not thrown: an old caller's code runs on; told once (per process), as any unheard error.
      this.surface(
        errors.unsupported(
          'The "id" option',
          'Hyperswarm 4 identifies a peer by its Noise public key (the keyPair option; by default derived from the store), so the id is ignored'
        )
      )
    }
    this.reactive = new ReactiveNetworker(store, { ...rest, restore: this.persistRemembered && rest.restore !== false })
    this.setMaxListeners(0)
    // The default key pair is derived from the store as soon as it can be, so `keyPair` is there
    // long before any peer (whose handlers read it) can connect. A failure shows again on listen().
    this.reactive.loadKeyPair().catch(() => {})

    this.subscription.add(
      this.reactive.peerEvents$.subscribe(({ type, peer }) => {
        if (type === 'add') this.peers.add(peer)
        else if (type === 'remove') this.peers.delete(peer)
        this.streams.clear()
        for (const known of this.peers) this.streams.add(known.stream)
        if (type !== 'remove') this.handshaken.add(peer.stream)
        if (type === 'add') {
          this.safeEmit('peer-add', peer)
          this.safeEmit('handshake', peer.stream)
        } else if (type === 'remove') {
          this.safeEmit('peer-remove', peer)
        }
      })
    )
    this.subscription.add(
      this.reactive.connections$.subscribe(({ type, connection }) => {
        const info: LegacyStreamInfo = { client: connection.isInitiator }
        if (type === 'open') this.safeEmit('stream-opened', connection, info)
        else this.safeEmit('stream-closed', connection, info, this.handshaken.has(connection))
      })
    )
    this.subscription.add(
      this.reactive.topics$.pipe(topicEvents()).subscribe(({ type, discoveryKey }) => {
        if (type !== 'left' && this.listenerCount(type) > 0) this.safeEmit(type, discoveryKey)
      })
    )
    this.subscription.add(
      this.reactive.errors$.subscribe((err) => {
        if (handledByOnerror(err)) return
        if (REPLICATION_CODES.has(err.code) && this.listenerCount('replication-error') > 0) {
          this.safeEmit('replication-error', err)
        } else {
          this.surface(err)
        }
      })
    )
  }

  /**
   * The Noise key pair of every connection: the one passed in, at once; else the one derived
   * from the store, as soon as Corestore has derived it (always before any peer connects).
   * Null only in the few ticks before that.
   */
  get keyPair(): { publicKey: Buffer; secretKey: Buffer } | null {
    const keyPair: KeyPairLike | null = this.reactive.keyPair
    return keyPair as { publicKey: Buffer; secretKey: Buffer } | null
  }

  /** The Hyperswarm 4 instance, once listening (null before). Not the hyperswarm 2 of 1.x. */
  get swarm(): SwarmLike | null {
    return this.reactive.hyperswarm
  }

  /** True once `open()`/`listen()`/`configure()` has started listening (stays true after close). */
  get opened(): boolean {
    return this.reactive.opened
  }

  /** True while `close()` runs. */
  get closing(): boolean {
    return this.reactive.state === 'closing'
  }

  /** True once `close()` has finished. */
  get closed(): boolean {
    return this.reactive.state === 'closed'
  }

  /** Starts the networker (listens); as `listen()`. Memoized. */
  open(): Promise<void> {
    return this.listen()
  }

  /**
   * Joins, refreshes or leaves a topic, with 1.x's semantics: `announce`/`lookup`/`flush` are
   * true unless `false`; `rejoin: false` skips a configuration whose flags are already in force;
   * `remember` is a label (see `persistRemembered`). Always returns the promise; `cb(err)` is
   * called too if given, and without a callback a failure (`ERR_CLOSED` after `close()`) is
   * caught, so an unawaited call never crashes the process.
   */
  configure(discoveryKey: Buffer | Uint8Array | string, opts: LegacyConfigureOptions = {}, cb?: NodeCallback<void>): Promise<void> {
    const done = this.applyConfiguration(discoveryKey, opts)
    if (typeof cb === 'function') {
      done.then(
        () => this.callback(cb, null),
        (err: Error) => this.callback(cb, err)
      )
    } else {
      done.catch(() => {})
    }
    return done
  }

  private applyConfiguration(discoveryKey: Buffer | Uint8Array | string, opts: LegacyConfigureOptions): Promise<void> {
    if (opts === null || typeof opts !== 'object') return Promise.reject(errors.invalidOption('opts', 'an object', opts))
    const announce = opts.announce !== false
    const lookup = opts.lookup !== false
    let key: Buffer
    try {
      key = toDiscoveryKey(discoveryKey)
    } catch (err) {
      return Promise.reject(err)
    }
    const hex = toHex(key)
    const previous = this.status(key)
    // Recorded at once, as 1.x did: status() shows the latest call even while it is applied.
    if (announce || lookup) this.callerOptions.set(hex, { ...opts, discoveryKey: key, announce, lookup })
    else this.callerOptions.delete(hex)
    if (opts.rejoin === false && previous !== undefined && previous.announce === announce && previous.lookup === lookup) {
      return this.reactive.closed ? Promise.reject(errors.closed('configure')) : Promise.resolve()
    }
    const remember = this.persistRemembered && opts.remember !== undefined ? opts.remember === true : undefined
    return this.reactive.configure(key, { announce, lookup, flush: opts.flush !== false, remember }).then(() => undefined)
  }

  private callback(cb: NodeCallback<void>, err: Error | null): void {
    try {
      cb(err)
    } catch (thrown) {
      this.surface(errors.callbackThrew('configure callback', '', thrown))
    }
  }

  joined(discoveryKey: Buffer | Uint8Array | string): boolean {
    return this.reactive.joined(discoveryKey)
  }

  flushed(discoveryKey: Buffer | Uint8Array | string): boolean {
    return this.reactive.flushed(discoveryKey)
  }

  /** The configuration in force for a key: the options the caller passed, flags applied; `undefined` if none. */
  status(discoveryKey: Buffer | Uint8Array | string): LegacyStatus | undefined {
    let key: Buffer
    try {
      key = toDiscoveryKey(discoveryKey)
    } catch {
      return undefined
    }
    const restored = this.reactive.status(key)
    return this.callerOptions.get(toHex(key)) ?? (restored === null ? undefined : { ...restored })
  }

  /** Every configuration in force, as `status()` shows them. */
  allStatuses(): LegacyStatus[] {
    const restored = this.reactive
      .allStatuses()
      .filter((status) => !this.callerOptions.has(toHex(status.discoveryKey)))
      .map((status): LegacyStatus => ({ ...status }))
    return [...this.callerOptions.values(), ...restored]
  }

  listen(): Promise<void> {
    return this.reactive.listen()
  }

  /**
   * Registers an extension, in any of the old forms:
   * `(name, { encoding, onmessage, onerror })`, `({ name, encoding, onmessage, onerror })`, or
   * `(name, ext => ({ encoding, onmessage, onerror }))`.
   */
  registerExtension<T = Buffer>(name: string, handlers?: LegacyExtensionHandlers<T>): LegacyExtension<T>
  registerExtension<T = Buffer>(handlers: LegacyExtensionHandlers<T> & { name: string }): LegacyExtension<T>
  registerExtension<T = Buffer>(
    name: string,
    factory: (ext: LegacyExtension<T>) => LegacyExtensionHandlers<T>
  ): LegacyExtension<T>
  registerExtension<T = Buffer>(
    nameOrHandlers: string | (LegacyExtensionHandlers<T> & { name: string }),
    handlersOrFactory?: LegacyExtensionHandlers<T> | ((ext: LegacyExtension<T>) => LegacyExtensionHandlers<T>)
  ): LegacyExtension<T> {
    const { extension, subscription } = registerLegacyExtension(this.reactive, nameOrHandlers, handlersOrFactory, (err) =>
      this.surface(err)
    )
    this.subscription.add(subscription)
    return extension
  }

  /** Closes every connection and stops. Memoized. */
  async close(): Promise<void> {
    await this.reactive.close()
    this.subscription.unsubscribe()
  }

  /** An error for the caller: `'error'` if someone listens, else a process warning (once per kind). */
  private surface(err: NetworkerError): void {
    surfaceError(this, err)
  }

  /** Emits an event; a listener that throws is a caller bug, surfaced and never left to crash the core. */
  private safeEmit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args)
    } catch (thrown) {
      this.surface(errors.callbackThrew(`'${event}' listener`, '', thrown))
    }
  }
}
