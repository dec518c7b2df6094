/**
 * The client's one WebSocket to a `serveNetworker` endpoint: (re)connecting with backoff, the
 * connection's state, subscriptions that follow it across reconnects, and commands waiting for
 * their `result`. Browser-safe: RxJS (`rxjs/webSocket`) only.
 */
import { EMPTY, Observable, ReplaySubject, concat, defer, distinctUntilChanged, finalize, retry, throwError, timer } from 'rxjs'
import { webSocket, type WebSocketSubject, type WebSocketSubjectConfig } from 'rxjs/webSocket'
import {
  RemoteErrorCodes,
  TERMINAL_CLOSE_CODES,
  clientProtocols,
  remoteError,
  type ClientFrame,
  type CloseInfo,
  type ConnectionState,
  type RemoteError,
  type RemoteServerInfo,
  type ServerFrame,
  type StreamName
} from './protocol'

/** A WebSocket constructor: the browser's `WebSocket`, or `ws`'s in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object

/** What a `sub` frame names. */
export type ChannelSpec =
  | { stream: Exclude<StreamName, 'messages' | 'metrics' | 'progress'> }
  | { stream: 'messages'; name: string }
  | { stream: 'metrics'; interval?: number }
  | { stream: 'progress'; key: string }

/** A command frame before it gets its id. */
export type CommandSpec = WithoutId<Extract<ClientFrame, { op: 'configure' | 'send' | 'drained' }>>

type WithoutId<F> = F extends unknown ? Omit<F, 'id'> : never

/** What {@link openConnection} needs (defaults are applied by `connectNetworker`). */
export interface ConnectionOptions {
  readonly token: string | undefined
  readonly WebSocketCtor: WebSocketConstructor
  /** ms before the first retry; each further retry doubles it (±20% jitter). */
  readonly initialDelay: number
  /** The longest wait between retries, ms. */
  readonly maxDelay: number
}

/** One client's connection, for the whole life of the client. */
export interface ClientConnection {
  /** Hot, replays the current state; `closed` is the last value, then it completes. */
  readonly state$: Observable<ConnectionState>
  /** Hot, replays: the server's `hello` of the last (re)connect. */
  readonly server$: Observable<RemoteServerInfo>
  /** How the last socket closed (null while none has). */
  readonly closeInfo: CloseInfo | null
  /** The server's `hello` of the current connection (null while none is open). */
  readonly server: RemoteServerInfo | null
  /** Cold: each subscription is one subscription on the server, for as long as it lasts. */
  channel(spec: ChannelSpec): Observable<unknown>
  /** Sends a command; resolves with its `result` value, rejects with a `RemoteError`. */
  command(frame: CommandSpec): Promise<unknown>
  /** Closes for good: pending commands fail, channels complete, `state$` turns `closed`. Idempotent. */
  close(): void
}

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
 * Opens the connection at once and keeps it: a dropped socket is retried with exponential
 * backoff (`retry({ delay })`) and every live channel is subscribed again, so the server answers
 * each with its snapshot first; a terminal close code (`TERMINAL_CLOSE_CODES`) ends it for good.
 */
export function openConnection(url: string, opts: ConnectionOptions): ClientConnection {
  const { token, WebSocketCtor, initialDelay, maxDelay } = opts
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
  let nextId = 1
  let socket: WebSocketSubject<unknown> | null = null
  let lastClose: CloseInfo | null = null
  let hello: RemoteServerInfo | null = null
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
        if (socket === ws) {
          socket = null
          hello = null
        }
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
        hello = Object.freeze({
          version: frame.version,
          publicKey: frame.publicKey,
          extensions: Object.freeze([...frame.extensions]),
          commands: frame.commands
        })
        info.next(hello)
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
    hello = null
    failPending(RemoteErrorCodes.ERR_CLOSED, 'the remote networker connection is closed')
    for (const entry of [...subs.values()]) entry.end()
    subs.clear()
    if (current !== 'closed') setState('closed')
    state.complete()
    info.complete()
  }

  const channel = (spec: ChannelSpec): Observable<unknown> =>
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

  const command = (frame: CommandSpec): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      if (finished) return reject(remoteError(RemoteErrorCodes.ERR_CLOSED, 'the remote networker connection is closed'))
      if (socket === null) return reject(remoteError(RemoteErrorCodes.ERR_NOT_CONNECTED, 'not connected'))
      const id = nextId++
      pending.set(id, { resolve, reject })
      socket.next({ ...frame, id })
    })

  return {
    state$: state.pipe(distinctUntilChanged()),
    server$: info.asObservable(),
    get closeInfo() {
      return lastClose
    },
    get server() {
      return hello
    },
    channel,
    command,
    close() {
      if (finished) return
      finished = true
      lastClose ??= Object.freeze({ code: 1000, reason: 'closed by the client' })
      connection.unsubscribe()
      finish()
    }
  }
}
