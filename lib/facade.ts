import b4a from 'b4a'
import { EventEmitter } from 'events'
import type { CorestoreLike, KeyPairLike, SwarmLike } from './stack-types'
import { Subscription } from 'rxjs'
import { topicEvents } from '../operators/topicEvents'
import { ErrorCodes, NetworkerError, errors } from './errors'
import { Codec, Encoding, resolveEncoding } from './encodings'
import type { Extension } from './extensions'
import type { Peer, PeerStream } from './peer'
import { toDiscoveryKey, toHex } from './keys'
import { ConfigureOptions, NetworkerOptions, ReactiveNetworker } from './reactive-networker'

/** Handlers of a legacy extension. */
export interface LegacyExtensionHandlers<T> {
  encoding?: Encoding<T>
  onmessage?: (message: T, peer: Peer) => void
  onerror?: (err: Error) => void
}

/** The codec a legacy extension shows as `encoding` (as the `codecs` package gave 1.x callers). */
export type LegacyCodec<T> = Codec<T>

/** What the legacy `registerExtension` returns. */
export interface LegacyExtension<T> {
  readonly name: string
  /** The codec in use: `name` (`'binary'`, `'utf-8'`, `'json'`, `'custom'`), `encode`, `decode`. */
  readonly encoding: LegacyCodec<T>
  send(message: T, peer: Peer): boolean
  broadcast(message: T): boolean
  destroy(): void
}

/** A node-style callback, as the legacy `configure(key, opts, cb)` takes. */
export type NodeCallback<T> = (err: Error | null, value?: T) => void

/** Options of the legacy `new Networker(store, opts)`. */
export interface LegacyNetworkerOptions extends Omit<NetworkerOptions, 'keyPair'> {
  /** Noise key pair for every connection (ed25519: 32-byte public, 64-byte secret key). */
  keyPair?: { publicKey: Buffer | Uint8Array; secretKey: Buffer | Uint8Array }
  /**
   * `configure(key, { remember: true })` stores the configuration in the Corestore and a later
   * networker on the store restores it, as `ReactiveNetworker` does. Default false: as in 1.x,
   * `remember` is only a label shown by `status()`, and nothing is restored.
   */
  persistRemembered?: boolean
  /** 1.x took a hyperswarm 2 instance here; this stack cannot use one (throws `ERR_UNSUPPORTED`). */
  swarm?: unknown
}

/** What the legacy `configure` takes: the reactive options, coerced as 1.x did, plus `rejoin`. */
export interface LegacyConfigureOptions extends Omit<ConfigureOptions, 'remember'> {
  /** `false`: a configuration with the same announce/lookup flags as the one in force does nothing. */
  rejoin?: boolean
  /** A label shown by `status()` (stored in the Corestore only with `persistRemembered`). */
  remember?: unknown
  /** Any other key is kept and shown by `status()`, as 1.x did. */
  [option: string]: unknown
}

/** A configuration as the legacy `status()` shows it: the options the caller passed, with the flags applied. */
export interface LegacyStatus {
  readonly discoveryKey: Buffer
  readonly announce: boolean
  readonly lookup: boolean
  readonly [option: string]: unknown
}

/** What `stream-opened` and `stream-closed` hand over besides the stream. */
export interface LegacyStreamInfo {
  /** True on the side that dialled. */
  readonly client: boolean
}

/** Error codes that 1.x reported as `'replication-error'` (a connection or its replication failed). */
const REPLICATION_CODES: ReadonlySet<string> = new Set([ErrorCodes.ERR_CONNECTION, ErrorCodes.ERR_REPLICATION])

/** Kinds of error already surfaced as a process warning (once per kind, per process, as Node does). */
const warned = new Set<string>()

/**
 * The API of the old `@corestore/networker`, for legacy callers: promises, a live `peers` Set and
 * events. It owns a `ReactiveNetworker` and only maps its streams onto events and promises. What
 * it keeps is a projection of the core (`peers` and `streams`, the live Sets 1.x handed out, kept
 * in step by one subscription) and the options each caller passed, which 1.x's `status()` echoed.
 *
 * Events: `peer-add` (peer), `peer-remove` (peer), `handshake` (stream), `stream-opened`
 * (stream, info), `stream-closed` (stream, info, finishedHandshake), `replication-error` (err),
 * and, only when someone listens, `joined` (discoveryKey), `flushed` (discoveryKey), `error`
 * (err). An error nobody listens for is surfaced with `process.emitWarning`, once per kind.
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
    const { persistRemembered = false, swarm, ...rest } = opts
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
    let name: unknown = nameOrHandlers
    let handlers: LegacyExtensionHandlers<T> | undefined
    if (typeof nameOrHandlers === 'object' && nameOrHandlers !== null) {
      name = nameOrHandlers.name
      handlers = nameOrHandlers
    } else if (typeof handlersOrFactory === 'object' && handlersOrFactory !== null) {
      handlers = handlersOrFactory
    } else if (handlersOrFactory !== undefined && typeof handlersOrFactory !== 'function') {
      throw errors.invalidOption('handlers', 'an object or a function', handlersOrFactory)
    }
    if (typeof name !== 'string' || name.length === 0) throw errors.invalidName(name)

    // The function form gets the extension object before its handlers (and encoding) exist.
    let inner: Extension<T> | null = null
    let codec: LegacyCodec<T> = resolveEncoding<T>(undefined)
    const legacy: LegacyExtension<T> = {
      name,
      get encoding() {
        return codec
      },
      send: (message, peer) => (inner as Extension<T>).send(message, peer),
      broadcast: (message) => (inner as Extension<T>).broadcast(message),
      destroy: () => inner?.destroy()
    }
    if (typeof handlersOrFactory === 'function') handlers = handlersOrFactory(legacy) ?? {}
    const { encoding, onmessage, onerror } = handlers ?? {}
    codec = resolveEncoding<T>(encoding)
    const ext = this.reactive.registerExtension<T>(name, { encoding: encoding as Encoding<T> })
    inner = ext

    const callOnerror = (err: NetworkerError): void => {
      if (typeof onerror !== 'function') return
      try {
        onerror(err)
      } catch (thrown) {
        this.surface(errors.handler(ext.name, err.remoteKey ?? '', thrown))
      }
    }
    this.subscription.add(
      ext.messages$.subscribe(({ message, peer }) => {
        if (typeof onmessage !== 'function') return
        try {
          onmessage(message, peer)
        } catch (thrown) {
          const err = errors.handler(ext.name, b4a.toString(peer.remotePublicKey, 'hex'), thrown)
          this.surface(err)
          callOnerror(err)
        }
      })
    )
    // Decode failures and oversize messages already reach errors$ (and so the 'error' event).
    this.subscription.add(ext.errors$.subscribe(callOnerror))
    return legacy
  }

  /** Closes every connection and stops. Memoized. */
  async close(): Promise<void> {
    await this.reactive.close()
    this.subscription.unsubscribe()
  }

  /**
   * An error for the caller: `'error'` if someone listens, else a process warning (once per
   * kind). Never thrown, never silent.
   */
  private surface(err: NetworkerError): void {
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', err)
        return
      } catch (thrown) {
        err = errors.callbackThrew("'error' listener", err.remoteKey ?? '', thrown)
      }
    }
    const kind = `${err.code}: ${err.message.replace(/[0-9a-f]{12}…/g, '…')}`
    if (warned.has(kind)) return
    warned.add(kind)
    process.emitWarning(err.message, { type: 'NetworkerWarning', code: err.code, detail: detailOf(err) })
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

function detailOf(err: NetworkerError): string | undefined {
  const cause: unknown = err.cause
  return cause instanceof Error ? (cause.stack ?? cause.message) : cause === undefined ? undefined : String(cause)
}
