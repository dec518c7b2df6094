/**
 * `@basestore/networker/remote`: a networker's streams in the browser (or another Node process),
 * from a server started with `serveNetworker` of `@basestore/networker/remote/server`.
 * Browser-safe: RxJS (`rxjs/webSocket`) only, no Node built-ins, keys as hex strings.
 *
 * ```ts
 * import { connectNetworker } from '@basestore/networker/remote'
 *
 * const token = 'the server’s token'
 * const networker = connectNetworker('ws://127.0.0.1:8080/networker', { token })
 * networker.peers$.subscribe((peers) => console.log(peers.map((p) => p.remotePublicKey)))
 * networker.connection$.subscribe((state) => console.log(state)) // connecting, open, …
 * ```
 */
import { Observable, defer, map, share, shareReplay } from 'rxjs'
import { errors } from '../errors'
import {
  RemoteErrorCodes,
  bytesToHex,
  remoteError,
  toHexKey,
  type CloseInfo,
  type ConnectionState,
  type RemoteCoreProgress,
  type RemoteMessage,
  type RemoteMetricsOptions,
  type RemoteNetworkerMetrics,
  type RemoteNetworkerStreams,
  type RemotePeer,
  type RemoteSendResult,
  type RemoteServerInfo,
  type RemoteTopicState,
  type RemoteValue
} from './protocol'
import { topicOf } from './streams'
import { openConnection, type WebSocketConstructor } from './client-connection'
import { PeerCache, toError, toSendResult, toTopicMap } from './client-values'

export {
  CloseCodes,
  RemoteErrorCodes,
  TERMINAL_CLOSE_CODES,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  bytesToHex,
  hexToBytes,
  toHexKey
} from './protocol'
export type {
  CloseInfo,
  ConnectionState,
  JsonValue,
  RemoteError,
  RemoteMessage,
  RemoteNetworkerStreams,
  RemoteNetworkerMetrics,
  RemoteCoreMetrics,
  RemoteCoreProgress,
  RemoteMetricsOptions,
  RemotePeer,
  RemotePeerEvent,
  RemoteSendResult,
  RemoteServerInfo,
  RemoteTopicState,
  RemoteValue,
  ClientFrame,
  ServerFrame,
  StreamName,
  WireMessage
} from './protocol'
export { toRemoteStreams, toRemoteTopics, toRemoteTopicState, toRemoteError, toRemoteMetrics } from './streams'
export type {
  LocalStreamsLike,
  LocalPeerLike,
  LocalTopicStateLike,
  LocalErrorLike,
  ExtensionLike,
  RemoteStreamsOptions
} from './streams'
export type { WebSocketConstructor } from './client-connection'

/** The shortest metrics interval (ms): the local `metrics$`'s (`MIN_METRICS_INTERVAL`). */
const MIN_METRICS_INTERVAL = 100

/** When to try again after a dropped connection. */
export interface ReconnectOptions {
  /** ms before the first retry; each further retry doubles it (±20% jitter). Default 250. */
  readonly initialDelay?: number
  /** The longest wait between retries, ms. Default 5000. */
  readonly maxDelay?: number
}

/** Options of {@link connectNetworker}. */
export interface ConnectOptions {
  /** The server's `token`, if it has one. */
  readonly token?: string
  /** Default: the global `WebSocket` (browsers, Node 22+). In Node 20 pass `ws`'s `WebSocket`. */
  readonly WebSocketCtor?: WebSocketConstructor
  readonly reconnect?: ReconnectOptions
}

/** What `configure` takes (the local defaults: announce, lookup and flush true). */
export interface RemoteConfigureOptions {
  readonly announce?: boolean
  readonly lookup?: boolean
  /** Resolve once the topic is flushed on the server. Default true. */
  readonly flush?: boolean
}

/** A networker seen through a server: its streams, the connection's state, and commands. */
export interface RemoteNetworker extends RemoteNetworkerStreams {
  readonly url: string
  /** Hot, replays the current state: `connecting`, `open`, `reconnecting`, `closed` (then completes). */
  readonly connection$: Observable<ConnectionState>
  /** Hot, replays: what the server said about itself on the last (re)connect. */
  readonly server$: Observable<RemoteServerInfo>
  /** How the last connection ended (null while none has). */
  readonly closeInfo: CloseInfo | null
  /** Joins, refreshes or leaves a topic on the server (needs `commands` on the server). */
  configure(discoveryKey: string | Uint8Array, opts?: RemoteConfigureOptions): Promise<RemoteTopicState>
  /** Leaves a topic (`configure` with announce and lookup false). */
  leave(discoveryKey: string | Uint8Array): Promise<RemoteTopicState>
  /**
   * Sends on a published extension to one peer, or to every peer without `peer`. Resolves once
   * the server accepted the message, with `full: true` when the window it went into is full
   * (then wait for `drained(name)` before sending more); rejects with `ERR_BACKPRESSURE`, nothing
   * sent, when this client already has the server's `maxWaitingSends` messages waiting.
   */
  send(name: string, message: RemoteValue, peer?: RemotePeer | string): Promise<RemoteSendResult>
  /**
   * Resolves once every peer's window of extension `name` on the server has room again (or the
   * peer is gone): the messages this client had waiting have gone into the windows.
   */
  drained(name: string): Promise<void>
  /** Closes the connection for good: every stream completes. Idempotent. */
  close(): void
}

/**
 * Connects to a `serveNetworker` endpoint and returns the networker's streams, the same streams
 * and value shapes as a local networker with keys in hex and peers without `stream`.
 *
 * 1. One WebSocket for the client's life, opened at once; each stream subscribes on the server
 *    while it has subscribers here (`peers$` and `topics$` share and replay their last value).
 * 2. On every (re)connect the server sends the current peers and topics first, then changes,
 *    so after a dropped connection or a server restart the streams show the live state.
 * 3. A dropped connection is retried with exponential backoff (`retry({ delay })`); refusals
 *    (4401 token, 4403 origin, 4400 bad frame) and the networker's end (4000) stop it for good:
 *    `connection$` turns `closed` and the streams complete.
 */
export function connectNetworker(url: string, opts: ConnectOptions = {}): RemoteNetworker {
  const { token, reconnect = {} } = opts
  const WebSocketCtor = opts.WebSocketCtor ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (typeof WebSocketCtor !== 'function') {
    throw new TypeError('No WebSocket here: pass connectNetworker(url, { WebSocketCtor }) (in Node 20, `ws`)')
  }
  const connection = openConnection(url, {
    token,
    WebSocketCtor,
    initialDelay: reconnect.initialDelay ?? 250,
    maxDelay: reconnect.maxDelay ?? 5000
  })
  const { channel, command } = connection
  const peers = new PeerCache()

  const peers$ = channel({ stream: 'peers' }).pipe(
    map((value) => peers.list(value)),
    shareReplay({ bufferSize: 1, refCount: true })
  )
  const topics$ = channel({ stream: 'topics' }).pipe(map(toTopicMap), shareReplay({ bufferSize: 1, refCount: true }))
  const peerEvents$ = channel({ stream: 'peerEvents' }).pipe(
    map((value) => peers.event(value)),
    share()
  )
  const errors$ = channel({ stream: 'errors' }).pipe(map(toError), share())
  const messageStreams = new Map<string, Observable<RemoteMessage<unknown>>>()
  const metricsStreams = new Map<number | undefined, Observable<RemoteNetworkerMetrics>>()

  return {
    url,
    connection$: connection.state$,
    server$: connection.server$,
    get closeInfo(): CloseInfo | null {
      return connection.closeInfo
    },
    peers$,
    peerEvents$,
    topics$,
    errors$,
    topic$: (discoveryKey) => topicOf(topics$, discoveryKey),
    messages$: <T = RemoteValue>(name: string): Observable<RemoteMessage<T>> => {
      let stream = messageStreams.get(name)
      if (stream === undefined) {
        stream = channel({ stream: 'messages', name }).pipe(
          map((value) => peers.message(value)),
          share()
        )
        messageStreams.set(name, stream)
      }
      return stream as Observable<RemoteMessage<T>>
    },
    metrics$(metricsOpts?: RemoteMetricsOptions) {
      // Checked here as the local one checks it (JSON cannot carry NaN or Infinity).
      const interval = metricsOpts?.interval
      if (interval !== undefined && (typeof interval !== 'number' || !Number.isFinite(interval) || interval < MIN_METRICS_INTERVAL)) {
        throw errors.invalidOption('interval', `a finite number of ms, at least ${MIN_METRICS_INTERVAL}`, interval)
      }
      let stream = metricsStreams.get(interval)
      if (stream === undefined) {
        const spec = interval === undefined ? { stream: 'metrics' as const } : { stream: 'metrics' as const, interval }
        stream = channel(spec).pipe(
          map((value) => deepFreeze(value) as RemoteNetworkerMetrics),
          share()
        )
        metricsStreams.set(interval, stream)
      }
      return stream
    },
    progress$(discoveryKey) {
      const key = toHexKey(discoveryKey)
      return defer(() => channel({ stream: 'progress', key })).pipe(map((value) => Object.freeze({ ...(value as RemoteCoreProgress) })))
    },
    async configure(discoveryKey, configureOpts = {}) {
      const value = await command({
        op: 'configure',
        key: toHexKey(discoveryKey),
        announce: configureOpts.announce ?? true,
        lookup: configureOpts.lookup ?? true,
        flush: configureOpts.flush ?? true
      })
      return Object.freeze({ ...(value as RemoteTopicState) })
    },
    leave(discoveryKey) {
      return this.configure(discoveryKey, { announce: false, lookup: false, flush: false })
    },
    async send(name, message, peer) {
      const binary = message instanceof Uint8Array
      const value = await command({
        op: 'send',
        name,
        message: binary ? bytesToHex(message) : message,
        ...(binary ? { binary: true as const } : {}),
        ...(peer === undefined ? {} : { peer: typeof peer === 'string' ? toHexKey(peer) : peer.remotePublicKey })
      })
      return toSendResult(value)
    },
    async drained(name) {
      const server = connection.server
      if (server !== null && server.version < 2) {
        throw remoteError(RemoteErrorCodes.ERR_COMMAND, `the server speaks protocol ${server.version}, without drained`)
      }
      await command({ op: 'drained', name })
    },
    close() {
      connection.close()
    }
  }
}

/** Freezes a JSON value and everything in it (what a metrics sample is locally: frozen). */
function deepFreeze(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
