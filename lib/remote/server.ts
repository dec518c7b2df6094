/**
 * `serveNetworker`: publishes a networker's streams to remote clients over WebSocket (`ws`), for
 * dashboards in the browser (`connectNetworker` of `@basestore/networker/remote`). Node only.
 *
 * Each client subscribes to what it shows; the server subscribes to the networker's streams for
 * that client only while the client does, and releases everything when it leaves.
 *
 * This file wires the parts together: the options (server-options), who may connect
 * (server-access), what is published (server-publish), one client (server-session), its frames
 * (server-frames) and the HTTP server underneath (server-http).
 */
import { createServer, type IncomingMessage } from 'http'
import type { AddressInfo } from 'net'
import type { Duplex } from 'stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { errors } from '../errors'
import { CloseCodes, SUBPROTOCOL } from './protocol'
import { DEFAULTS, validate, type ServeOptions } from './server-options'
import { digest, isLoopback, originAllowed, tokenMatches } from './server-access'
import { answerPlainRequest, closeServer, hostForUrl, listen } from './server-http'
import { publish, type ServedNetworker } from './server-publish'
import { CLOSE_TIMEOUT, ClientSession, type SessionContext } from './server-session'

export { CloseCodes, RemoteErrorCodes, PROTOCOL_VERSION, SUBPROTOCOL } from './protocol'
export type { RemoteSendResult, RemoteServerInfo, RemoteNetworkerMetrics, RemoteCoreMetrics, RemoteCoreProgress } from './protocol'
export type { LocalStreamsLike, LocalPeerLike, LocalTopicStateLike, ExtensionLike } from './streams'
export type { ServeOptions } from './server-options'
export type { ServedNetworker, ServedExtension, ServedStore, ServedCoreSession } from './server-publish'
export { parseClientFrame } from './server-frames'

/** A running server. */
export interface RemoteServer {
  /** `ws://host:port/path`, for `connectNetworker`. */
  readonly url: string
  /** Clients connected right now. */
  readonly clients: number
  /** Live subscriptions to the networker's streams held for clients. */
  readonly subscriptions: number
  /** Messages clients sent that wait behind full extension windows (each client at most `maxWaitingSends`). */
  readonly waitingSends: number
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
 * 4. With `commands`, a `send` answers `{ accepted, full, waiting }`: `full` when the window it
 *    went into is full, as a local `send()` returning false. A client with `maxWaitingSends`
 *    messages (or `maxWaitingSendBytes`) waiting behind full windows is refused with
 *    `ERR_BACKPRESSURE` and nothing is queued until the extension drains (`drained` command).
 * 5. When the networker closes (its `peers$` completes), every client is closed with 4000.
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
    maxWaitingSends = DEFAULTS.maxWaitingSends,
    maxWaitingSendBytes = DEFAULTS.maxWaitingSendBytes,
    pingInterval = DEFAULTS.pingInterval,
    store
  } = validate(networker, opts)

  const httpServer = given ?? createServer(answerPlainRequest)
  if (given === undefined) await listen(httpServer, port, host)
  else if (!given.listening) await new Promise<void>((resolve) => given.once('listening', () => resolve()))
  const address = httpServer.address() as AddressInfo
  if (token === undefined && !isLoopback(address.address)) {
    if (given === undefined) await closeServer(httpServer)
    throw errors.invalidOption('token', `set when the server is not on loopback (bound to ${address.address})`, token)
  }

  const expectedToken = token === undefined ? null : digest(Buffer.from(token, 'utf-8'))
  const sessions = new Set<ClientSession>()
  let closing: Promise<void> | null = null
  const published = publish(networker, {
    extensions,
    commands,
    store,
    // Each client's own subscriptions have reported `complete` by then.
    onNetworkerClosed: () => {
      for (const session of sessions) session.close(CloseCodes.NETWORKER_CLOSED, 'networker closed')
    }
  })

  const context: SessionContext = {
    maxBufferedBytes,
    maxSubscriptions,
    sendLimits: { maxWaitingSends, maxWaitingSendBytes },
    stream: published.stream,
    configure: published.configure,
    send: published.send,
    onDrained: published.onDrained,
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
      const timer = setTimeout(() => ws.terminate(), CLOSE_TIMEOUT)
      timer.unref()
      ws.once('close', () => clearTimeout(timer))
    }
    if (closing !== null) return refuse(CloseCodes.GOING_AWAY, 'server closing')
    if (!originAllowed(request, allowOrigins, host)) return refuse(CloseCodes.FORBIDDEN_ORIGIN, 'origin not allowed')
    if (expectedToken !== null && !tokenMatches(request, expectedToken)) return refuse(CloseCodes.UNAUTHORIZED, 'unauthorized')
    if (ws.protocol !== SUBPROTOCOL) return refuse(CloseCodes.BAD_FRAME, `subprotocol ${SUBPROTOCOL} required`)
    if (published.networkerClosed) return refuse(CloseCodes.NETWORKER_CLOSED, 'networker closed')
    if (sessions.size >= maxClients) return refuse(CloseCodes.TOO_MANY_CLIENTS, 'too many clients')
    const session = new ClientSession(ws, context)
    sessions.add(session)
    session.send(published.hello())
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
    get waitingSends() {
      let n = 0
      for (const session of sessions) n += session.waitingSends
      return n
    },
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat)
        published.close()
        httpServer.removeListener('upgrade', onUpgrade)
        await Promise.all([...sessions].map((session) => session.close(CloseCodes.GOING_AWAY, 'server closing')))
        wss.close()
        if (given === undefined) await closeServer(httpServer)
      })()
      return closing
    }
  }
}
