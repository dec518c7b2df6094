/**
 * `serveNetworker`: publishes a networker's streams to remote clients over WebSocket (`ws`), for
 * dashboards in the browser (`connectNetworker` of `@basestore/networker/remote`). Node only.
 *
 * Each client subscribes to what it shows; the server subscribes to the networker's streams for
 * that client only while the client does, and releases everything when it leaves.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'http'
import type { Server as HttpsServer } from 'https'
import type { AddressInfo } from 'net'
import type { Duplex } from 'stream'
import { createHash, timingSafeEqual } from 'crypto'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { Observable, Subscription, map } from 'rxjs'
import { errors } from '../errors'
import {
  CloseCodes,
  PROTOCOL_VERSION,
  RemoteErrorCodes,
  SUBPROTOCOL,
  TOKEN_PROTOCOL_PREFIX,
  bytesToHex,
  hexToBytes,
  isHexKey,
  type ClientFrame,
  type JsonValue,
  type RemoteMessage,
  type RemoteServerInfo,
  type ServerFrame,
  type WireMessage
} from './protocol'
import {
  toRemoteStreams,
  toRemoteTopicState,
  type ExtensionLike,
  type LocalPeerLike,
  type LocalStreamsLike,
  type LocalTopicStateLike
} from './streams'

export { CloseCodes, RemoteErrorCodes, PROTOCOL_VERSION, SUBPROTOCOL } from './protocol'
export type { RemoteServerInfo } from './protocol'
export type { LocalStreamsLike, LocalPeerLike, LocalTopicStateLike, ExtensionLike } from './streams'

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  path: '/networker',
  maxClients: 1000,
  maxBufferedBytes: 1024 * 1024,
  maxFrameBytes: 64 * 1024,
  maxSubscriptions: 64,
  maxPendingCommands: 16,
  pingInterval: 30_000,
  closeTimeout: 1000
} as const

/** What the server needs of a networker: the streams, and `configure` for commands. */
export interface ServedNetworker extends LocalStreamsLike {
  /** The networker's public key (shown to clients), or null before it listens. */
  readonly publicKey?: Uint8Array | null
  configure?(
    discoveryKey: string,
    opts: { announce: boolean; lookup: boolean; flush: boolean }
  ): Promise<LocalTopicStateLike>
}

/** An extension the server publishes (an `Extension` of the networker fits). */
export interface ServedExtension extends ExtensionLike {
  /** `'binary'` extensions take and give bytes (hex on the wire). */
  readonly encoding: string
  send(message: unknown, peer: LocalPeerLike): boolean
  broadcast(message: unknown): boolean
}

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
  /** Accept `configure`/`leave`, and `send` on a published extension. Default false. */
  commands?: boolean
  /** Clients at once; more are closed with 4429 (they retry). Default 1000. */
  maxClients?: number
  /** Bytes queued for one client before it is closed with 4008 as too slow. Default 1 MiB. */
  maxBufferedBytes?: number
  /** Largest frame a client may send; larger closes it with 1009. Default 64 KiB. */
  maxFrameBytes?: number
  /** Subscriptions one client may hold. Default 64. */
  maxSubscriptions?: number
  /** ms between pings; a client that missed one pong is dropped. Default 30000. */
  pingInterval?: number
}

/** A running server. */
export interface RemoteServer {
  /** `ws://host:port/path`, for `connectNetworker`. */
  readonly url: string
  /** Clients connected right now. */
  readonly clients: number
  /** Live subscriptions to the networker's streams held for clients. */
  readonly subscriptions: number
  /** Closes every client (1001, they reconnect), stops listening, frees the port. Memoized. */
  close(): Promise<void>
}

/**
 * Publishes `networker`'s streams on a WebSocket endpoint and resolves once it listens.
 *
 * 1. Clients authenticate with `token` (a subprotocol entry) and are refused with 4401 without it;
 *    an origin not allowed is refused with 4403. Nothing is sent before that check.
 * 2. Each `sub` frame subscribes the networker stream it names, for that client only; the first
 *    `next` of `peers`/`topics` is the current snapshot.
 * 3. A client whose send buffer passes `maxBufferedBytes` is closed with 4008 (it reconnects
 *    and gets fresh snapshots); a malformed frame closes it with 4400, an oversize one with 1009.
 * 4. When the networker closes (its `peers$` completes), every client is closed with 4000.
 */
export async function serveNetworker(networker: ServedNetworker, opts: ServeOptions = {}): Promise<RemoteServer> {
  const {
    server: given,
    host = DEFAULTS.host,
    port = DEFAULTS.port,
    path = DEFAULTS.path,
    token,
    allowOrigins,
    extensions = [],
    commands = false,
    maxClients = DEFAULTS.maxClients,
    maxBufferedBytes = DEFAULTS.maxBufferedBytes,
    maxFrameBytes = DEFAULTS.maxFrameBytes,
    maxSubscriptions = DEFAULTS.maxSubscriptions,
    pingInterval = DEFAULTS.pingInterval
  } = validate(networker, opts)

  const httpServer = given ?? createServer(answerPlainRequest)
  if (given === undefined) await listen(httpServer, port, host)
  else if (!given.listening) await new Promise<void>((resolve) => given.once('listening', () => resolve()))
  const address = httpServer.address() as AddressInfo
  if (token === undefined && !isLoopback(address.address)) {
    if (given === undefined) await closeServer(httpServer)
    throw errors.invalidOption('token', `set when the server is not on loopback (bound to ${address.address})`, token)
  }

  const extensionsByName = new Map(extensions.map((ext) => [ext.name, ext]))
  const remote = toRemoteStreams(networker, { extensions })
  const expectedToken = token === undefined ? null : digest(Buffer.from(token, 'utf-8'))
  const sessions = new Set<ClientSession>()
  const owned = new Subscription()
  let networkerClosed = false
  let closing: Promise<void> | null = null
  // The current peers, for `send` to one of them.
  let peers: readonly LocalPeerLike[] = []
  owned.add(
    networker.peers$.subscribe({
      next: (list) => (peers = list),
      complete: () => {
        networkerClosed = true
        // Let each client's own subscriptions report `complete` first.
        setImmediate(() => {
          for (const session of sessions) session.close(CloseCodes.NETWORKER_CLOSED, 'networker closed')
        })
      },
      error: () => {}
    })
  )

  const hello = (): ServerFrame => ({
    op: 'hello',
    version: PROTOCOL_VERSION,
    publicKey: networker.publicKey ? bytesToHex(networker.publicKey) : null,
    extensions: [...extensionsByName.keys()],
    commands
  })

  const context: SessionContext = {
    maxBufferedBytes,
    maxSubscriptions,
    stream: (frame) => {
      switch (frame.stream) {
        case 'peers':
          return remote.peers$
        case 'peerEvents':
          return remote.peerEvents$
        case 'topics':
          return remote.topics$.pipe(map((states) => [...states.values()]))
        case 'errors':
          return remote.errors$
        case 'messages':
          if (!extensionsByName.has(frame.name)) return null
          return remote.messages$(frame.name).pipe(map(toWireMessage))
      }
    },
    command: async (frame) => {
      if (!commands) throw coded(RemoteErrorCodes.ERR_COMMANDS_OFF, 'commands are off on this server')
      if (frame.op === 'configure') {
        if (typeof networker.configure !== 'function') throw coded(RemoteErrorCodes.ERR_COMMAND, 'this networker cannot configure')
        const state = await networker.configure(frame.key, { announce: frame.announce, lookup: frame.lookup, flush: frame.flush })
        return toRemoteTopicState(state)
      }
      const extension = extensionsByName.get(frame.name)
      if (extension === undefined) {
        throw coded(RemoteErrorCodes.ERR_UNKNOWN_EXTENSION, `Extension "${frame.name}" is not published`)
      }
      const message = frame.binary ? Buffer.from(hexToBytes(frame.message as string)) : frame.message
      if (frame.peer === undefined) {
        extension.broadcast(message)
        return null
      }
      const peer = peers.find((p) => bytesToHex(p.remotePublicKey) === frame.peer)
      if (peer === undefined) throw coded(RemoteErrorCodes.ERR_UNKNOWN_PEER, `Peer ${frame.peer.slice(0, 12)}… is not connected`)
      extension.send(message, peer)
      return null
    },
    closed: (session) => sessions.delete(session)
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false)
  })

  const accept = (ws: WebSocket, request: IncomingMessage): void => {
    // A client's reset or protocol violation must never reach the process.
    ws.on('error', () => {})
    const refuse = (code: number, reason: string): void => {
      ws.close(code, reason)
      const timer = setTimeout(() => ws.terminate(), DEFAULTS.closeTimeout)
      timer.unref()
      ws.once('close', () => clearTimeout(timer))
    }
    if (closing !== null) return refuse(CloseCodes.GOING_AWAY, 'server closing')
    if (!originAllowed(request, allowOrigins, host)) return refuse(CloseCodes.FORBIDDEN_ORIGIN, 'origin not allowed')
    if (expectedToken !== null && !tokenMatches(request, expectedToken)) return refuse(CloseCodes.UNAUTHORIZED, 'unauthorized')
    if (ws.protocol !== SUBPROTOCOL) return refuse(CloseCodes.BAD_FRAME, `subprotocol ${SUBPROTOCOL} required`)
    if (networkerClosed) return refuse(CloseCodes.NETWORKER_CLOSED, 'networker closed')
    if (sessions.size >= maxClients) return refuse(CloseCodes.TOO_MANY_CLIENTS, 'too many clients')
    const session = new ClientSession(ws, context)
    sessions.add(session)
    session.send(hello())
  }

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let pathname: string
    try {
      pathname = new URL(request.url ?? '/', 'http://remote.invalid').pathname
    } catch {
      pathname = ''
    }
    if (pathname !== path) {
      // Someone else's endpoint on a server we were given; on our own, nobody's.
      if (given === undefined) {
        socket.on('error', () => {})
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      }
      return
    }
    socket.on('error', () => {})
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws, request))
  }
  httpServer.on('upgrade', onUpgrade)

  // Clients that stopped answering pings are dropped (half-open sockets, frozen tabs).
  const heartbeat = setInterval(() => {
    for (const session of sessions) session.ping()
  }, pingInterval)
  heartbeat.unref()

  const urlHost = hostForUrl(address)
  return {
    url: `ws://${urlHost}:${address.port}${path}`,
    get clients() {
      return sessions.size
    },
    get subscriptions() {
      let n = 0
      for (const session of sessions) n += session.subscriptions
      return n
    },
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat)
        owned.unsubscribe()
        httpServer.removeListener('upgrade', onUpgrade)
        await Promise.all([...sessions].map((session) => session.close(CloseCodes.GOING_AWAY, 'server closing')))
        wss.close()
        if (given === undefined) await closeServer(httpServer)
      })()
      return closing
    }
  }
}

interface SessionContext {
  readonly maxBufferedBytes: number
  readonly maxSubscriptions: number
  /** The stream a `sub` frame names, or null if it may not be subscribed. */
  stream(frame: Extract<ClientFrame, { op: 'sub' }>): Observable<unknown> | null
  command(frame: Extract<ClientFrame, { op: 'configure' | 'send' }>): Promise<unknown>
  closed(session: ClientSession): void
}

/** One connected client: its subscriptions and its bounded send path. */
class ClientSession {
  private readonly subs = new Map<number, Subscription>()
  /** Frames of this turn of the event loop, sent together by `flush`. */
  private queue: string[] = []
  private queuedBytes = 0
  private pending = 0
  private alive = true
  private closing: Promise<void> | null = null

  constructor(
    private readonly ws: WebSocket,
    private readonly context: SessionContext
  ) {
    ws.on('message', (data, isBinary) => this.receive(data, isBinary))
    ws.on('pong', () => (this.alive = true))
    ws.on('close', () => this.release())
  }

  get subscriptions(): number {
    return this.subs.size
  }

  /**
   * Queues a frame unless the client has fallen too far behind, in which case it is closed.
   * Frames queued in one turn of the event loop go out as one WebSocket message (a JSON array).
   */
  send(frame: ServerFrame): void {
    if (this.closing !== null) return
    let text: string
    try {
      text = JSON.stringify(frame)
    } catch {
      return // a value JSON cannot carry (a bigint, a cycle): dropped
    }
    const queued = this.ws.bufferedAmount + this.queuedBytes
    if (queued > 0 && queued + text.length > this.context.maxBufferedBytes) {
      void this.close(CloseCodes.TOO_SLOW, 'too slow: send buffer full')
      return
    }
    this.queue.push(text)
    this.queuedBytes += text.length
    if (this.queue.length === 1) setImmediate(() => this.flush())
  }

  private flush(): void {
    const frames = this.queue
    this.queue = []
    this.queuedBytes = 0
    if (this.closing !== null || frames.length === 0) return
    this.ws.send(frames.length === 1 ? frames[0] : `[${frames.join(',')}]`)
  }

  ping(): void {
    if (this.closing !== null) return
    if (!this.alive) {
      this.ws.terminate()
      return
    }
    this.alive = false
    this.ws.ping()
  }

  /** Releases every subscription, closes with `code`, and resolves once the socket is gone. */
  close(code: number, reason: string): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.release()
      if (this.ws.readyState === 3) return resolve()
      const timer = setTimeout(() => this.ws.terminate(), DEFAULTS.closeTimeout)
      this.ws.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      this.ws.close(code, reason)
    })
    return this.closing
  }

  private release(): void {
    this.queue = []
    this.queuedBytes = 0
    for (const sub of this.subs.values()) sub.unsubscribe()
    this.subs.clear()
    this.context.closed(this)
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closing !== null) return
    if (isBinary) return void this.close(CloseCodes.BAD_FRAME, 'binary frames are not accepted')
    let value: unknown
    try {
      value = JSON.parse(rawText(data))
    } catch {
      return void this.close(CloseCodes.BAD_FRAME, 'a frame is not JSON')
    }
    const frame = parseClientFrame(value)
    if (typeof frame === 'string') return void this.close(CloseCodes.BAD_FRAME, frame)
    switch (frame.op) {
      case 'sub':
        return this.subscribe(frame)
      case 'unsub': {
        const sub = this.subs.get(frame.id)
        this.subs.delete(frame.id)
        sub?.unsubscribe()
        return
      }
      default:
        return this.run(frame)
    }
  }

  private subscribe(frame: Extract<ClientFrame, { op: 'sub' }>): void {
    const { id } = frame
    if (this.subs.has(id)) return void this.close(CloseCodes.BAD_FRAME, 'subscription id in use')
    if (this.subs.size >= this.context.maxSubscriptions) return void this.close(CloseCodes.BAD_FRAME, 'too many subscriptions')
    const source = this.context.stream(frame)
    if (source === null) {
      const name = frame.stream === 'messages' ? frame.name : frame.stream
      this.send({ op: 'error', id, code: RemoteErrorCodes.ERR_UNKNOWN_EXTENSION, message: `Extension "${name}" is not published` })
      return
    }
    let done = false
    const sub = source.subscribe({
      next: (value) => this.send({ op: 'next', id, value: value as JsonValue }),
      error: (err: unknown) => {
        done = true
        this.subs.delete(id)
        const { code, message } = describeError(err)
        this.send({ op: 'error', id, code, message })
      },
      complete: () => {
        done = true
        this.subs.delete(id)
        this.send({ op: 'complete', id })
      }
    })
    // A synchronous end, or a close caused by the first values, leaves nothing to keep.
    if (done || this.closing !== null) sub.unsubscribe()
    else this.subs.set(id, sub)
  }

  private run(frame: Extract<ClientFrame, { op: 'configure' | 'send' }>): void {
    const { id } = frame
    if (this.pending >= DEFAULTS.maxPendingCommands) {
      this.send({ op: 'result', id, ok: false, code: RemoteErrorCodes.ERR_COMMAND, message: 'too many commands in flight' })
      return
    }
    this.pending++
    this.context
      .command(frame)
      .then(
        (value) => this.send({ op: 'result', id, ok: true, value: (value ?? null) as JsonValue }),
        (err: unknown) => {
          const { code, message } = describeError(err)
          this.send({ op: 'result', id, ok: false, code, message })
        }
      )
      .finally(() => this.pending--)
  }
}

/**
 * Checks a client frame's shape. Returns the frame, or why it is malformed (the close reason).
 */
export function parseClientFrame(value: unknown): ClientFrame | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'a frame must be a JSON object'
  const frame = value as Record<string, unknown>
  const id = frame.id
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return 'id must be a non-negative integer'
  switch (frame.op) {
    case 'sub':
      if (frame.stream === 'messages') {
        if (typeof frame.name !== 'string' || frame.name.length === 0 || frame.name.length > 256) return 'name must be a string'
        return { op: 'sub', id, stream: 'messages', name: frame.name }
      }
      if (frame.stream === 'peers' || frame.stream === 'peerEvents' || frame.stream === 'topics' || frame.stream === 'errors') {
        return { op: 'sub', id, stream: frame.stream }
      }
      return 'unknown stream'
    case 'unsub':
      return { op: 'unsub', id }
    case 'configure': {
      if (!isHexKey(frame.key)) return 'key must be 64 hex characters'
      const announce = frame.announce ?? true
      const lookup = frame.lookup ?? true
      const flush = frame.flush ?? false
      if (typeof announce !== 'boolean' || typeof lookup !== 'boolean' || typeof flush !== 'boolean') {
        return 'announce, lookup and flush must be booleans'
      }
      return { op: 'configure', id, key: frame.key.toLowerCase(), announce, lookup, flush }
    }
    case 'send': {
      if (typeof frame.name !== 'string' || frame.name.length === 0) return 'name must be a string'
      if (frame.peer !== undefined && !isHexKey(frame.peer)) return 'peer must be 64 hex characters'
      if (frame.binary !== undefined && frame.binary !== true) return 'binary must be true or absent'
      if (frame.binary === true && (typeof frame.message !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(frame.message))) {
        return 'a binary message must be hex'
      }
      if (!('message' in frame)) return 'message is missing'
      return {
        op: 'send',
        id,
        name: frame.name,
        message: frame.message as JsonValue,
        ...(frame.binary === true ? { binary: true as const } : {}),
        ...(typeof frame.peer === 'string' ? { peer: frame.peer.toLowerCase() } : {})
      }
    }
    default:
      return 'unknown op'
  }
}

/** An extension message for the wire: bytes as hex with `binary: true`. */
function toWireMessage({ message, peer }: RemoteMessage<unknown>): WireMessage {
  if (message instanceof Uint8Array) return { peer, message: bytesToHex(message), binary: true }
  return { peer, message: message === undefined ? null : (message as JsonValue) }
}

function describeError(err: unknown): { code: string; message: string } {
  const code =
    typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : RemoteErrorCodes.ERR_COMMAND
  return { code, message: err instanceof Error ? err.message : String(err) }
}

function coded(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code })
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf-8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf-8')
  return Buffer.from(data).toString('utf-8')
}

function digest(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
}

/** The token the client offered as a subprotocol entry, compared in constant time. */
function tokenMatches(request: IncomingMessage, expected: Buffer): boolean {
  const header = request.headers['sec-websocket-protocol']
  if (typeof header !== 'string') return false
  for (const entry of header.split(',')) {
    const value = entry.trim()
    if (!value.startsWith(TOKEN_PROTOCOL_PREFIX)) continue
    let bytes: Uint8Array
    try {
      bytes = hexToBytes(value.slice(TOKEN_PROTOCOL_PREFIX.length))
    } catch {
      return false
    }
    return timingSafeEqual(digest(bytes), expected)
  }
  return false
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]'])

function isLoopback(address: string): boolean {
  return LOOPBACK_NAMES.has(address) || /^127\.\d+\.\d+\.\d+$/.test(address) || address === '::ffff:127.0.0.1'
}

/**
 * An `Origin` is allowed if listed (or `'*'`); without a list, only a request without one (not a
 * browser) or a page of this server's own loopback origin (Host and Origin agree, and the Host
 * is a loopback name: a rebound DNS name is not).
 */
function originAllowed(request: IncomingMessage, allow: readonly string[] | '*' | undefined, host: string): boolean {
  const origin = request.headers.origin
  if (allow === '*') return true
  // Not a browser: an Origin check protects browsers only (the token protects the rest).
  if (origin === undefined) return true
  if (allow !== undefined) return allow.includes(origin)
  let parsed: URL
  try {
    parsed = new URL(origin)
  } catch {
    return false
  }
  const hostHeader = request.headers.host
  if (hostHeader === undefined || parsed.host !== hostHeader.toLowerCase()) return false
  return isLoopback(parsed.hostname) || parsed.hostname === host
}

function hostForUrl(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1'
  if (address.address === '::') return '[::1]'
  return address.family === 'IPv6' ? `[${address.address}]` : address.address
}

function answerPlainRequest(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket' })
  response.end('WebSocket only\n')
}

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
}

function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

function validate(networker: ServedNetworker, opts: ServeOptions): ServeOptions {
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
  if (opts.allowOrigins !== undefined && opts.allowOrigins !== '*' && !Array.isArray(opts.allowOrigins)) {
    throw errors.invalidOption('allowOrigins', "an array of origins or '*'", opts.allowOrigins)
  }
  for (const ext of opts.extensions ?? []) {
    if (ext === null || typeof ext !== 'object' || typeof ext.name !== 'string') {
      throw errors.invalidOption('extensions', 'an array of the networker’s extensions', ext)
    }
  }
  return opts
}
