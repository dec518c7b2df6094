import b4a from 'b4a'
import { EventEmitter } from 'events'
import type { CorestoreLike } from './stack-types'
import { Subscription, map, pairwise, startWith } from 'rxjs'
import type { TopicState } from '../operators/types'
import { NetworkerError, errors } from './errors'
import type { Encoding } from './encodings'
import type { Extension } from './extensions'
import type { Peer } from './peer'
import { ConfigureOptions, NetworkerOptions, ReactiveNetworker, TopicStatus } from './reactive-networker'

/** Handlers of a legacy extension. */
export interface LegacyExtensionHandlers<T> {
  encoding?: Encoding<T>
  onmessage?: (message: T, peer: Peer) => void
  onerror?: (err: Error) => void
}

/** What the legacy `registerExtension` returns. */
export interface LegacyExtension<T> {
  readonly name: string
  readonly encoding: string
  send(message: T, peer: Peer): boolean
  broadcast(message: T): boolean
  destroy(): void
}

/** A node-style callback, as the legacy `configure(key, opts, cb)` takes. */
export type NodeCallback<T> = (err: Error | null, value?: T) => void

/**
 * The API of the old `@corestore/networker`, for legacy callers: promises, a `peers` Set and
 * events. It owns a `ReactiveNetworker` and only maps its streams onto events; it keeps no state
 * of its own.
 *
 * Events: `peer-add` (peer), `peer-remove` (peer), and, only when someone listens,
 * `joined` (discoveryKey), `flushed` (discoveryKey), `error` (err).
 */
export class Networker extends EventEmitter {
  /** The reactive networker behind this facade (use it to migrate piecemeal). */
  readonly reactive: ReactiveNetworker
  private readonly subscription = new Subscription()
  private latestPeers: readonly Peer[] = []

  constructor(store: CorestoreLike, opts: NetworkerOptions = {}) {
    super()
    this.reactive = new ReactiveNetworker(store, opts)
    this.subscription.add(this.reactive.peers$.subscribe((peers) => (this.latestPeers = peers)))
    this.subscription.add(
      this.reactive.peerEvents$.subscribe(({ type, peer }) => {
        if (type === 'add') this.emit('peer-add', peer)
        else if (type === 'remove') this.emit('peer-remove', peer)
      })
    )
    this.subscription.add(
      this.reactive.topics$
        .pipe(
          startWith(new Map<string, TopicState>()),
          pairwise(),
          map(([before, after]) => changes(before, after))
        )
        .subscribe((events) => {
          for (const { event, key } of events) {
            if (this.listenerCount(event) > 0) this.emit(event, key)
          }
        })
    )
    this.subscription.add(this.reactive.errors$.subscribe((err) => this.emitError(err)))
  }

  /** The connected peers (the same objects `peer-add` handed out). */
  get peers(): Set<Peer> {
    return new Set(this.latestPeers)
  }

  /** Joins, refreshes or leaves a topic. Returns a promise, or calls `cb(err)` if given. */
  configure(discoveryKey: Buffer | Uint8Array | string, opts?: ConfigureOptions): Promise<void>
  configure(discoveryKey: Buffer | Uint8Array | string, opts: ConfigureOptions, cb: NodeCallback<void>): void
  configure(
    discoveryKey: Buffer | Uint8Array | string,
    opts: ConfigureOptions = {},
    cb?: NodeCallback<void>
  ): Promise<void> | void {
    const done = this.reactive.configure(discoveryKey, opts).then(() => undefined)
    if (typeof cb !== 'function') return done
    done.then(
      () => cb(null),
      (err: Error) => cb(err)
    )
  }

  joined(discoveryKey: Buffer | Uint8Array | string): boolean {
    return this.reactive.joined(discoveryKey)
  }

  flushed(discoveryKey: Buffer | Uint8Array | string): boolean {
    return this.reactive.flushed(discoveryKey)
  }

  status(discoveryKey: Buffer | Uint8Array | string): TopicStatus | null {
    return this.reactive.status(discoveryKey)
  }

  allStatuses(): TopicStatus[] {
    return this.reactive.allStatuses()
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
    const legacy: LegacyExtension<T> = {
      name,
      get encoding() {
        return inner === null ? 'binary' : inner.encoding
      },
      send: (message, peer) => (inner as Extension<T>).send(message, peer),
      broadcast: (message) => (inner as Extension<T>).broadcast(message),
      destroy: () => inner?.destroy()
    }
    if (typeof handlersOrFactory === 'function') handlers = handlersOrFactory(legacy) ?? {}
    const { encoding, onmessage, onerror } = handlers ?? {}
    const ext = this.reactive.registerExtension<T>(name, { encoding: encoding as Encoding<T> })
    inner = ext

    const callOnerror = (err: NetworkerError): void => {
      if (typeof onerror !== 'function') return
      try {
        onerror(err)
      } catch (thrown) {
        this.reactive.report(errors.handler(ext.name, err.remoteKey ?? '', thrown))
      }
    }
    this.subscription.add(
      ext.messages$.subscribe(({ message, peer }) => {
        if (typeof onmessage !== 'function') return
        try {
          onmessage(message, peer)
        } catch (thrown) {
          const err = errors.handler(ext.name, b4a.toString(peer.remotePublicKey, 'hex'), thrown)
          this.reactive.report(err)
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

  private emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err)
  }
}

function changes(
  before: ReadonlyMap<string, TopicState>,
  after: ReadonlyMap<string, TopicState>
): Array<{ event: 'joined' | 'flushed'; key: Uint8Array }> {
  const events: Array<{ event: 'joined' | 'flushed'; key: Uint8Array }> = []
  for (const [hex, state] of after) {
    const previous = before.get(hex)
    if (state.joined && !previous?.joined) events.push({ event: 'joined', key: state.discoveryKey })
    if (state.flushed && !previous?.flushed) events.push({ event: 'flushed', key: state.discoveryKey })
  }
  return events
}
