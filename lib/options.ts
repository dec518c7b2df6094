import type { SchedulerLike } from 'rxjs'
import { errors } from './errors'
import { toDiscoveryKey } from './keys'
import { MAX_MESSAGE_SIZE_LIMIT } from './extensions/limits'
import type { CorestoreLike, DhtNodeLike, KeyPairLike } from './stack-types'

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
   * ms of silence, from the last frame received, after which a connection is dropped (both
   * sides keep alive at a quarter of it); time this process was stalled is not counted. Until
   * the remote answers, a connection has twice as long. A remote that never answers (a half-open connection, a mute
   * peer) is dropped too; a plain Hyperswarm peer, which rejects the keep-alive channel, keeps
   * Hyperswarm's default.
   */
  timeout?: number
  /**
   * ms a new connection's remote has to answer the keep-alive channel (open it, or reject it as
   * a plain Hyperswarm peer does), counted from the connection's first moment whatever it
   * receives meanwhile; time this process was stalled is not counted. One that has not answered
   * (half-open, mute) is destroyed and never becomes a peer (not an error: nothing on `errors$`);
   * until then it holds a `maxPeers` slot, and connections waiting for an answer hold a topic's
   * flush for at most this long in a row. Default `2 × timeout` when `timeout` is set, else 5000
   * (`DEFAULT_HANDSHAKE_TIMEOUT`). A positive number.
   */
  handshakeTimeout?: number
  /**
   * Largest extension message, in bytes, sent or accepted. Default 4 MiB; at most
   * `MAX_MESSAGE_SIZE_LIMIT` (8 MiB − 64 KiB), what the transport carries in one frame.
   */
  maxMessageSize?: number
  /**
   * Called for every new connection before it is replicated or announced; call `done()` to
   * accept, `done(err)` to refuse and close it. A refused key is banned for the networker's life,
   * as Hyperswarm bans a key its `firewall` refuses: never dialled again, refused inbound.
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

/** `configure` options with their defaults filled in. */
export interface ConfigureRequest {
  readonly announce: boolean
  readonly lookup: boolean
  readonly flush: boolean
  readonly remember: boolean | undefined
}

/** Checks the constructor's arguments; throws `ERR_INVALID_OPTION` for the first bad one. */
export function validateOptions(store: CorestoreLike, opts: NetworkerOptions): void {
  if (store === null || typeof store !== 'object' || typeof store.replicate !== 'function') {
    throw errors.invalidOption('store', 'a Corestore', store)
  }
  if (opts === null || typeof opts !== 'object') throw errors.invalidOption('opts', 'an object', opts)
  if ((opts as { id?: unknown }).id !== undefined) {
    // The old networker's random peer id; the legacy facade warns and drops it, the new API refuses it.
    throw errors.unsupported('The "id" option', 'Hyperswarm 4 identifies a peer by its Noise public key: pass keyPair, or leave it out to derive one from the store')
  }
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
  const { handshakeTimeout } = opts
  if (handshakeTimeout !== undefined && (typeof handshakeTimeout !== 'number' || !Number.isFinite(handshakeTimeout) || handshakeTimeout <= 0)) {
    throw errors.invalidOption('handshakeTimeout', 'a positive number (ms)', handshakeTimeout)
  }
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

/** Checks `configure`'s options and fills in the defaults. */
export function validateConfigure(opts: ConfigureOptions): ConfigureRequest {
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
