/**
 * The options of `serveNetworker`: what each one means, its default, and the checks made before
 * anything listens. Node only.
 */
import type { Server as HttpServer } from 'http'
import type { Server as HttpsServer } from 'https'
import { REMOTE_MAX_WAITING_SENDS, REMOTE_MAX_WAITING_SEND_BYTES } from '../budgets'
import { errors } from '../errors'
import { isLoopback } from './server-access'
import type { ServedExtension, ServedNetworker, ServedStore } from './server-publish'

/** The default of every option with one. */
export const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  path: '/networker',
  maxClients: 1000,
  maxBufferedBytes: 1024 * 1024,
  maxFrameBytes: 64 * 1024,
  maxSubscriptions: 64,
  maxWaitingSends: REMOTE_MAX_WAITING_SENDS,
  maxWaitingSendBytes: REMOTE_MAX_WAITING_SEND_BYTES,
  pingInterval: 30_000
} as const

/** Options of {@link serveNetworker}. */
export interface ServeOptions {
  /** An HTTP(S) server to attach to (its `upgrade` requests on `path`); else the server makes its own. */
  server?: HttpServer | HttpsServer
  /** Interface of the server's own HTTP server. Default `127.0.0.1`; any other needs `token`. */
  host?: string
  /** Port of the server's own HTTP server. Default 0: a free one. */
  port?: number
  /** URL path of the WebSocket endpoint. Default `/networker`. */
  path?: string
  /** A secret every client must present (`connectNetworker(url, { token })`). Required off loopback. */
  token?: string
  /**
   * Origins (`scheme://host:port`) of pages allowed to connect, or `'*'`. Default: requests
   * without an `Origin` (not a browser) and pages served from this server's own loopback origin.
   */
  allowOrigins?: readonly string[] | '*'
  /** Extensions whose messages are published. Default none. */
  extensions?: ReadonlyArray<ServedExtension>
  /** Accept `configure`/`leave`, and `send`/`drained` on a published extension. Default false. */
  commands?: boolean
  /** Clients at once; more are closed with 4429 (they retry). Default 1000. */
  maxClients?: number
  /** Bytes queued for one client before it is closed with 4008 as too slow. Default 1 MiB. */
  maxBufferedBytes?: number
  /** Largest frame a client may send; larger closes it with 1009. Default 64 KiB. */
  maxFrameBytes?: number
  /** Subscriptions one client may hold. Default 64. */
  maxSubscriptions?: number
  /**
   * Messages one client may have waiting behind full extension windows (its `send` commands
   * answered `full: true`, until the extension drains); one more is refused with
   * `ERR_BACKPRESSURE` and nothing is queued. Default 256 (`REMOTE_MAX_WAITING_SENDS`).
   */
  maxWaitingSends?: number
  /**
   * The bytes of those messages (the size of their `send` frames). Default 1 MiB
   * (`REMOTE_MAX_WAITING_SEND_BYTES`).
   */
  maxWaitingSendBytes?: number
  /** ms between pings; a client that missed one pong is dropped. Default 30000. */
  pingInterval?: number
  /**
   * The networker's Corestore, for `progress$(discoveryKey)`: a client's subscription opens a
   * session on the core open in it with that discovery key (closed when the subscription ends);
   * a key with no open core errors with `ERR_UNKNOWN_CORE`. Without it every `progress$` errors
   * with `ERR_UNKNOWN_CORE`. Cores are never created or loaded from disk for a client.
   */
  store?: ServedStore
}

/** Throws `ERR_INVALID_OPTION` for a networker or an option `serveNetworker` cannot use; else returns `opts`. */
export function validate(networker: ServedNetworker, opts: ServeOptions): ServeOptions {
  if (networker === null || typeof networker !== 'object' || typeof networker.peers$?.subscribe !== 'function') {
    throw errors.invalidOption('networker', 'a networker (or its streams)', networker)
  }
  if (opts === null || typeof opts !== 'object') throw errors.invalidOption('opts', 'an object', opts)
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token.length === 0)) {
    throw errors.invalidOption('token', 'a non-empty string', opts.token)
  }
  if (opts.path !== undefined && (typeof opts.path !== 'string' || !opts.path.startsWith('/'))) {
    throw errors.invalidOption('path', 'a path starting with /', opts.path)
  }
  const host = opts.host ?? DEFAULTS.host
  if (opts.server === undefined && opts.token === undefined && !isLoopback(host)) {
    throw errors.invalidOption('token', `set when host is not loopback (host ${host})`, opts.token)
  }
  for (const name of ['maxClients', 'maxBufferedBytes', 'maxFrameBytes', 'maxSubscriptions', 'pingInterval'] as const) {
    const value = opts[name]
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)) {
      throw errors.invalidOption(name, 'a positive number', value)
    }
  }
  for (const name of ['maxWaitingSends', 'maxWaitingSendBytes'] as const) {
    const value = opts[name]
    if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)) {
      throw errors.invalidOption(name, 'a positive integer', value)
    }
  }
  if (opts.allowOrigins !== undefined && opts.allowOrigins !== '*' && !Array.isArray(opts.allowOrigins)) {
    throw errors.invalidOption('allowOrigins', "an array of origins or '*'", opts.allowOrigins)
  }
  if (opts.store !== undefined && (opts.store === null || typeof opts.store !== 'object' || typeof opts.store.get !== 'function')) {
    throw errors.invalidOption('store', 'the networker’s Corestore', opts.store)
  }
  for (const ext of opts.extensions ?? []) {
    if (ext === null || typeof ext !== 'object' || typeof ext.name !== 'string') {
      throw errors.invalidOption('extensions', 'an array of the networker’s extensions', ext)
    }
  }
  return opts
}
