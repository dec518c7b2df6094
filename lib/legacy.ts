/**
 * The legacy (1.x) shapes on top of the reactive core: extensions with `onmessage`/`onerror`
 * handlers, and errors surfaced as `'error'` events or process warnings.
 */

import b4a from 'b4a'
import type { EventEmitter } from 'events'
import type { Subscription } from 'rxjs'
import { Codec, Encoding, resolveEncoding } from './encodings'
import { NetworkerError, errors } from './errors'
import type { Extension } from './extension-types'
import type { Peer } from './peer'
import type { ConfigureOptions, NetworkerOptions } from './options'
import type { ReactiveNetworker } from './reactive-networker'

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
  /**
   * @deprecated 1.x's "randomly-generated peer ID" of its replication streams. Hyperswarm 4
   * identifies a peer by its Noise public key (`keyPair`), so this is ignored; passing it gives one
   * `NetworkerWarning` process warning (code `ERR_UNSUPPORTED`), once per process.
   */
  id?: unknown
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

/**
 * Registers a reactive extension and adapts it to 1.x's shape: `onmessage`/`onerror` handlers fed
 * from its `messages$`/`errors$`, a handler that throws surfaced (and passed to `onerror`), never
 * thrown into the transport. The returned subscription feeds the handlers; the caller owns it.
 */
export function registerLegacyExtension<T>(
  reactive: Pick<ReactiveNetworker, 'registerExtension'>,
  nameOrHandlers: string | (LegacyExtensionHandlers<T> & { name: string }),
  handlersOrFactory: LegacyExtensionHandlers<T> | ((ext: LegacyExtension<T>) => LegacyExtensionHandlers<T>) | undefined,
  surface: (err: NetworkerError) => void
): { readonly extension: LegacyExtension<T>; readonly subscription: Subscription } {
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
  const registered = (): Extension<T> => {
    if (inner === null) throw errors.invalidOption('extension', 'used after its handlers were returned', name)
    return inner
  }
  const extension: LegacyExtension<T> = {
    name,
    get encoding() {
      return codec
    },
    send: (message, peer) => registered().send(message, peer),
    broadcast: (message) => registered().broadcast(message),
    destroy: () => inner?.destroy()
  }
  if (typeof handlersOrFactory === 'function') handlers = handlersOrFactory(extension) ?? {}
  const { encoding, onmessage, onerror } = handlers ?? {}
  codec = resolveEncoding<T>(encoding)
  // No encoding means the reactive default ('binary'), as in 1.x; T is the caller's word for it.
  const ext = reactive.registerExtension<T>(name, { encoding: encoding as Encoding<T> })
  inner = ext

  /** Hands `err` to `onerror`; true when it took it (returned without throwing). */
  const callOnerror = (err: NetworkerError): boolean => {
    if (typeof onerror !== 'function') return false
    try {
      onerror(err)
    } catch (thrown) {
      surface(errors.handler(ext.name, err.remoteKey ?? '', thrown))
      return false
    }
    handled.add(err)
    return true
  }
  const subscription = ext.messages$.subscribe(({ message, peer }) => {
    if (typeof onmessage !== 'function') return
    try {
      onmessage(message, peer)
    } catch (thrown) {
      const err = errors.handler(ext.name, b4a.toString(peer.remotePublicKey, 'hex'), thrown)
      if (!callOnerror(err)) surface(err)
    }
  })
  // Decode failures, oversize messages and gaps reach the extension's errors$ first, then the
  // networker's errors$: the facade surfaces them there unless `onerror` took them here.
  subscription.add(ext.errors$.subscribe(callOnerror))
  return { extension, subscription }
}

/** Errors a legacy `onerror` took (returned without throwing): reported there, and nowhere else. */
const handled = new WeakSet<NetworkerError>()

/** True when a legacy extension's `onerror` already took `err` (so it is neither `'error'` nor a warning). */
export function handledByOnerror(err: NetworkerError): boolean {
  return handled.has(err)
}

/** Kinds of error already surfaced as a process warning (once per kind, per process, as Node does). */
const warned = new Set<string>()

/**
 * An error for a legacy caller: `'error'` on the emitter if someone listens, else a process
 * warning (once per kind). Never thrown, never silent.
 */
export function surfaceError(emitter: EventEmitter, err: NetworkerError): void {
  if (emitter.listenerCount('error') > 0) {
    try {
      emitter.emit('error', err)
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

function detailOf(err: NetworkerError): string | undefined {
  const cause: unknown = err.cause
  return cause instanceof Error ? (cause.stack ?? cause.message) : cause === undefined ? undefined : String(cause)
}
