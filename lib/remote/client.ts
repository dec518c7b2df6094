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
import {
  EMPTY,
  Observable,
  ReplaySubject,
  concat,
  defer,
  distinctUntilChanged,
  finalize,
  map,
  retry,
  share,
  shareReplay,
  throwError,
  timer
} from 'rxjs'
import { webSocket, type WebSocketSubject, type WebSocketSubjectConfig } from 'rxjs/webSocket'
import {
  RemoteErrorCodes,
  TERMINAL_CLOSE_CODES,
  bytesToHex,
  clientProtocols,
  hexToBytes,
  remoteError,
  toHexKey,
  type ClientFrame,
  type CloseInfo,
  type ConnectionState,
  type JsonValue,
  type RemoteError,
  type RemoteMessage,
  type RemoteNetworkerStreams,
  type RemotePeer,
  type RemotePeerEvent,
  type RemoteServerInfo,
  type RemoteTopicState,
  type RemoteValue,
  type ServerFrame,
  type StreamName
} from './protocol'

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
  RemotePeer,
  RemotePeerEvent,
  RemoteServerInfo,
  RemoteTopicState,
  RemoteValue,
  ClientFrame,
  ServerFrame,
  StreamName,
  WireMessage
} from './protocol'
import { topicOf } from './streams'
export { toRemoteStreams, toRemoteTopics, toRemoteTopicState, toRemoteError } from './streams'
export type {
  LocalStreamsLike,
  LocalPeerLike,
  LocalTopicStateLike,
  LocalErrorLike,
  ExtensionLike,
  RemoteStreamsOptions
} from './streams'

/** A WebSocket constructor: the browser's `WebSocket`, or `ws`'s in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object

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
  /** Sends on a published extension to one peer, or to every peer without `peer`. */
  send(name: string, message: RemoteValue, peer?: RemotePeer | string): Promise<void>
  /** Closes the connection for good: every stream completes. Idempotent. */
  close(): void
}

/** A frame before it gets its id. */
type WithoutId<F> = F extends unknown ? Omit<F, 'id'> : never

interface SubEntry {
  readonly frame: ClientFrame
  deliver(frame: ServerFrame): void
  end(): void
}

interface Pending {
  resolve(value: unknown): void
  reject(err: RemoteError): void
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
  const initialDelay = reconnect.initialDelay ?? 250
  const maxDelay = reconnect.maxDelay ?? 5000
  const WebSocketCtor = opts.WebSocketCtor ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (typeof WebSocketCtor !== 'function') {
    throw new TypeError('No WebSocket here: pass connectNetworker(url, { WebSocketCtor }) (in Node 20, `ws`)')
  }

  // A ReplaySubject, not a BehaviorSubject: a late subscriber still gets `closed` after the end.
  const state = new ReplaySubject<ConnectionState>(1)
  let current: ConnectionState = 'connecting'
  const setState = (next: ConnectionState): void => {
    current = next
    state.next(next)
  }
  state.next(current)
  const info = new ReplaySubject<RemoteServerInfo>(1)
  const subs = new Map<number, SubEntry>()
  const pending = new Map<number, Pending>()
  const peers = new PeerCache()
  let nextId = 1
  let socket: WebSocketSubject<unknown> | null = null
  let lastClose: CloseInfo | null = null
  let finished = false

  const failPending = (code: string, message: string): void => {
    for (const entry of pending.values()) entry.reject(remoteError(code, message))
    pending.clear()
  }

  /** One connection attempt: ends quietly on a terminal close, errors (to be retried) otherwise. */
  const attempt$ = defer(() => {
    // How this attempt's socket closed (stays null if it failed before closing cleanly).
    let ended: CloseInfo | null = null
    const ws = webSocket<unknown>({
      url,
      protocol: clientProtocols(token),
      WebSocketCtor: WebSocketCtor as unknown as WebSocketSubjectConfig<unknown>['WebSocketCtor'],
      serializer: (value) => JSON.stringify(value),
      deserializer: (event: { data: unknown }) => JSON.parse(String(event.data)) as unknown,
      closeObserver: {
        next: (event: { code: number; reason: string }) => {
          ended = Object.freeze({ code: event.code, reason: event.reason })
          lastClose = ended
        }
      }
    })
    socket = ws
    // Resubscribe what is subscribed: the server answers each with its snapshot first.
    for (const entry of subs.values()) ws.next(entry.frame)
    return concat(
      ws,
      defer(() => {
        const code = (ended as CloseInfo | null)?.code
        return code !== undefined && TERMINAL_CLOSE_CODES.has(code)
          ? EMPTY
          : throwError(() => new Error(`connection closed (${code ?? 'no code'})`))
      })
    ).pipe(
      finalize(() => {
        if (socket === ws) socket = null
        if (finished) failPending(RemoteErrorCodes.ERR_CLOSED, 'the remote networker connection is closed')
        else failPending(RemoteErrorCodes.ERR_NOT_CONNECTED, 'the connection dropped before the answer')
      })
    )
  })

  const connection = attempt$
    .pipe(
      retry({
        delay: (_err, count) => {
          if (!finished) setState('reconnecting')
          const base = Math.min(maxDelay, initialDelay * 2 ** Math.min(count - 1, 30))
          return timer(base * (0.8 + Math.random() * 0.4))
        },
        resetOnSuccess: true
      })
    )
    .subscribe({
      next: (frame) => dispatch(frame),
      complete: () => finish(),
      error: () => finish()
    })

  function dispatch(raw: unknown): void {
    if (Array.isArray(raw)) {
      // Frames the server sent in one message, in order.
      for (const frame of raw) dispatch(frame)
      return
    }
    if (raw === null || typeof raw !== 'object') return
    const frame = raw as ServerFrame
    switch (frame.op) {
      case 'hello':
        info.next(
          Object.freeze({
            version: frame.version,
            publicKey: frame.publicKey,
            extensions: Object.freeze([...frame.extensions]),
            commands: frame.commands
          })
        )
        setState('open')
        return
      case 'next':
      case 'error':
      case 'complete':
        subs.get(frame.id)?.deliver(frame)
        return
      case 'result': {
        const entry = pending.get(frame.id)
        if (entry === undefined) return
        pending.delete(frame.id)
        if (frame.ok) entry.resolve(frame.value)
        else entry.reject(remoteError(frame.code, frame.message))
      }
    }
  }

  function finish(): void {
    finished = true
    socket = null
    failPending(RemoteErrorCodes.ERR_CLOSED, 'the remote networker connection is closed')
    for (const entry of [...subs.values()]) entry.end()
    subs.clear()
    if (current !== 'closed') setState('closed')
    state.complete()
    info.complete()
  }

  /** Cold: each subscription is one subscription on the server, for as long as it lasts. */
  const channel = (spec: { stream: Exclude<StreamName, 'messages'> } | { stream: 'messages'; name: string }) =>
    new Observable<unknown>((subscriber) => {
      if (finished) {
        subscriber.complete()
        return
      }
      const id = nextId++
      const frame = { op: 'sub', id, ...spec } as ClientFrame
      subs.set(id, {
        frame,
        deliver: (reply) => {
          if (reply.op === 'next') subscriber.next(reply.value)
          else if (reply.op === 'error') {
            subs.delete(id)
            subscriber.error(remoteError(reply.code, reply.message))
          } else if (reply.op === 'complete') {
            subs.delete(id)
            subscriber.complete()
          }
        },
        end: () => subscriber.complete()
      })
      socket?.next(frame)
      return () => {
        if (subs.delete(id)) socket?.next({ op: 'unsub', id })
      }
    })

  const command = (frame: WithoutId<Extract<ClientFrame, { op: 'configure' | 'send' }>>): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      if (finished) return reject(remoteError(RemoteErrorCodes.ERR_CLOSED, 'the remote networker connection is closed'))
      if (socket === null) return reject(remoteError(RemoteErrorCodes.ERR_NOT_CONNECTED, 'not connected'))
      const id = nextId++
      pending.set(id, { resolve, reject })
      socket.next({ ...frame, id })
    })

  const peers$ = channel({ stream: 'peers' }).pipe(
    map((value) => peers.list(value)),
    shareReplay({ bufferSize: 1, refCount: true })
  )
  const topics$ = channel({ stream: 'topics' }).pipe(map(toTopicMap), shareReplay({ bufferSize: 1, refCount: true }))
  const peerEvents$ = channel({ stream: 'peerEvents' }).pipe(
    map((value) => {
      const event = value as { type: RemotePeerEvent['type']; peer: unknown }
      const peer = peers.of(event.peer)
      return Object.freeze({ type: event.type, peer }) as RemotePeerEvent
    }),
    share()
  )
  const errors$ = channel({ stream: 'errors' }).pipe(
    map((value) => {
      const err = value as { code: string; message: string; remoteKey?: string | null }
      return remoteError(String(err.code), String(err.message), err.remoteKey ?? null)
    }),
    share()
  )
  const messageStreams = new Map<string, Observable<RemoteMessage<unknown>>>()

  return {
    url,
    connection$: state.pipe(distinctUntilChanged()),
    server$: info.asObservable(),
    get closeInfo() {
      return lastClose
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
          map((value) => {
            const wire = value as { peer: unknown; message: JsonValue; binary?: true }
            const message = wire.binary === true ? hexToBytes(String(wire.message)) : wire.message
            return Object.freeze({ message, peer: peers.of(wire.peer) }) as RemoteMessage<unknown>
          }),
          share()
        )
        messageStreams.set(name, stream)
      }
      return stream as Observable<RemoteMessage<T>>
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
      await command({
        op: 'send',
        name,
        message: binary ? bytesToHex(message) : message,
        ...(binary ? { binary: true as const } : {}),
        ...(peer === undefined ? {} : { peer: typeof peer === 'string' ? toHexKey(peer) : peer.remotePublicKey })
      })
    },
    close() {
      if (finished) return
      finished = true
      lastClose ??= Object.freeze({ code: 1000, reason: 'closed by the client' })
      connection.unsubscribe()
      finish()
    }
  }
}

function toTopicMap(value: unknown): ReadonlyMap<string, RemoteTopicState> {
  const out = new Map<string, RemoteTopicState>()
  if (!Array.isArray(value)) return out
  for (const state of value as RemoteTopicState[]) {
    out.set(
      state.discoveryKey,
      Object.freeze({
        discoveryKey: state.discoveryKey,
        announce: state.announce,
        lookup: state.lookup,
        joined: state.joined,
        flushed: state.flushed
      })
    )
  }
  return out
}

/** One frozen `RemotePeer` per key while its address holds, so identity means "same peer". */
class PeerCache {
  private readonly byKey = new Map<string, RemotePeer>()

  of(value: unknown): RemotePeer {
    const wire = (value ?? {}) as Partial<RemotePeer>
    const key = String(wire.remotePublicKey)
    const address = String(wire.remoteAddress)
    const known = this.byKey.get(key)
    if (known !== undefined && known.remoteAddress === address) return known
    const peer: RemotePeer = Object.freeze({ remotePublicKey: key, remoteAddress: address, type: 'udx' as const })
    // Bounded: a peer seen only in events or messages is not kept past a few hundred.
    if (this.byKey.size > 512) this.byKey.clear()
    this.byKey.set(key, peer)
    return peer
  }

  list(value: unknown): readonly RemotePeer[] {
    const list = Array.isArray(value) ? value.map((peer) => this.of(peer)) : []
    return Object.freeze(list)
  }
}
