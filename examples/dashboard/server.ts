/**
 * A live dashboard for one networker: a small `node:http` server on loopback that streams the
 * networker's `peers$`, `topics$`, per-peer traffic, extension messages and errors to the browser
 * with Server-Sent Events, and a page that renders them with RxJS (examples/dashboard/public/).
 *
 * ```ts
 * import { startDashboard } from './examples/dashboard/server'
 *
 * const chat = networker.registerExtension('chat', { encoding: 'json' })
 * const dashboard = await startDashboard(networker, { chat })
 * console.log('dashboard on', dashboard.url)
 * // …
 * await dashboard.close()
 * ```
 *
 * Every browser gets its own subscriptions to the networker's streams; they are torn down when
 * the browser leaves (its `/events` request closes) and on `close()`. `subscriptions` counts them.
 */
import b4a from 'b4a'
import fs from 'fs'
import http from 'http'
import type { AddressInfo } from 'net'
import path from 'path'
import {
  EMPTY,
  Observable,
  Subscription,
  distinctUntilChanged,
  endWith,
  ignoreElements,
  interval,
  map,
  merge,
  shareReplay,
  startWith,
  switchMap,
  take,
  takeUntil,
  timer
} from 'rxjs'
import type { ConfigureOptions, Extension, NetworkerError, NetworkerStreams, Peer, TopicState } from '../../lib'

/** What the dashboard needs of a networker: the streams, `configure`, and its key. */
export interface DashboardNetworker extends NetworkerStreams {
  readonly publicKey: Buffer | null
  configure(discoveryKey: Buffer | string, opts?: ConfigureOptions): Promise<TopicState>
}

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number
  /** Interface to bind; default `127.0.0.1`. Keep it on loopback: the page can configure topics. */
  host?: string
  /** An extension whose received messages appear in the message log (e.g. the app's `chat`). */
  chat?: Extension<unknown>
  /** A display name for a peer (shown beside its key), or undefined. */
  peerName?: (peer: Peer) => string | undefined
  /** ms between traffic samples of every peer. Default 1000. */
  trafficInterval?: number
  /** ms between keep-alive comments on idle event streams. Default 15000. */
  heartbeatInterval?: number
}

/** A running dashboard. */
export interface Dashboard {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  /** Browsers connected to the event stream right now. */
  readonly clients: number
  /** Live subscriptions to the networker's streams held for browsers: 0 once every browser left. */
  readonly subscriptions: number
  /** Ends every event stream and subscription, and stops the server. Memoized. */
  close(): Promise<void>
}

/** One row of the peer table, as sent to the browser. */
export interface PeerRow {
  readonly key: string
  readonly name: string | null
  readonly address: string
  /** Raw bytes read from the peer (`stream.rawBytesRead`), summed over its connections. */
  readonly bytesIn: number
  /** Raw bytes written to the peer (`stream.rawBytesWritten`), summed over its connections. */
  readonly bytesOut: number
  /** ms since the dashboard first saw the peer connected. */
  readonly age: number
}

/** One topic of the topic list, as sent to the browser. */
export interface TopicRow {
  readonly key: string
  readonly announce: boolean
  readonly lookup: boolean
  readonly joined: boolean
  readonly flushed: boolean
}

/** The events of `/events`: `event:` is the name, `data:` the JSON of the value. */
export type DashboardEvent =
  | { readonly event: 'hello'; readonly data: { readonly publicKey: string | null; readonly extension: string | null } }
  | { readonly event: 'peers'; readonly data: readonly PeerRow[] }
  | { readonly event: 'topics'; readonly data: readonly TopicRow[] }
  | {
      readonly event: 'message'
      readonly data: { readonly at: number; readonly from: string; readonly name: string | null; readonly message: unknown }
    }
  | { readonly event: 'failure'; readonly data: { readonly at: number; readonly code: string; readonly message: string } }
  | { readonly event: 'end'; readonly data: null }

const PUBLIC_DIR = path.join(__dirname, 'public')
const RXJS_UMD = path.join(path.dirname(require.resolve('rxjs/package.json')), 'dist/bundles/rxjs.umd.min.js')
const HEX_KEY = /^[0-9a-f]{64}$/i
const MAX_BODY = 4096

/** The files the page is made of: a fixed list, so no path ever reaches the file system. */
const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: path.join(PUBLIC_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: path.join(PUBLIC_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: path.join(PUBLIC_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
  '/rxjs.umd.min.js': { file: RXJS_UMD, type: 'text/javascript; charset=utf-8' }
}

/**
 * Starts the dashboard of `networker` on `host:port` (default `127.0.0.1`, a free port) and
 * resolves once it listens.
 */
export async function startDashboard(networker: DashboardNetworker, opts: DashboardOptions = {}): Promise<Dashboard> {
  const {
    port = 0,
    host = '127.0.0.1',
    chat,
    peerName = () => undefined,
    trafficInterval = 1000,
    heartbeatInterval = 15_000
  } = opts

  let live = 0
  /** Counts subscriptions to a networker stream, so a test can see them all released. */
  const counted = <T>(source: Observable<T>): Observable<T> =>
    new Observable<T>((subscriber) => {
      live++
      const subscription = source.subscribe(subscriber)
      return () => {
        subscription.unsubscribe()
        live--
      }
    })

  // When each peer was first seen: a peer's age survives connection swaps (same Peer object).
  const firstSeen = new WeakMap<Peer, number>()
  const started = Date.now()
  const ageOf = (peer: Peer, now: number): number => {
    let since = firstSeen.get(peer)
    if (since === undefined) {
      since = now
      firstSeen.set(peer, since)
    }
    return now - since
  }
  // Traffic per peer, summed over its connections: a deduplicated swap gives the same Peer a
  // new stream whose counters start at 0, so the finished stream's totals are kept.
  const traffic = new WeakMap<Peer, { stream: Peer['stream']; bytesIn: number; bytesOut: number }>()
  const trafficOf = (peer: Peer): { bytesIn: number; bytesOut: number } => {
    let entry = traffic.get(peer)
    if (entry === undefined) {
      entry = { stream: peer.stream, bytesIn: 0, bytesOut: 0 }
      traffic.set(peer, entry)
    } else if (entry.stream !== peer.stream) {
      entry.bytesIn += entry.stream.rawBytesRead ?? 0
      entry.bytesOut += entry.stream.rawBytesWritten ?? 0
      entry.stream = peer.stream
    }
    return {
      bytesIn: entry.bytesIn + (peer.stream.rawBytesRead ?? 0),
      bytesOut: entry.bytesOut + (peer.stream.rawBytesWritten ?? 0)
    }
  }

  // The dashboard's own subscription, for the lifetime of the server: arrival times (peers that
  // arrive while no browser watches still get theirs) and connection swaps (for the traffic sums).
  const tracker = networker.peerEvents$.subscribe(({ type, peer }) => {
    if (type === 'add' && !firstSeen.has(peer)) firstSeen.set(peer, Date.now())
    if (type === 'add' || type === 'swap') trafficOf(peer)
  })
  // Peers connected before the dashboard started (the current set, which `peers$` replays at
  // once): their age counts from the start.
  tracker.add(
    networker.peers$.pipe(take(1)).subscribe((peers) => {
      for (const peer of peers) {
        if (!firstSeen.has(peer)) firstSeen.set(peer, started)
        trafficOf(peer)
      }
    })
  )

  const rowOf = (peer: Peer, now: number): PeerRow => ({
    key: b4a.toString(peer.remotePublicKey, 'hex'),
    name: peerName(peer) ?? null,
    address: peer.remoteAddress,
    ...trafficOf(peer),
    age: ageOf(peer, now)
  })

  /** Everything one browser sees, as a cold stream: each subscription is one browser. */
  const events$ = (): Observable<DashboardEvent> => {
    const hello: DashboardEvent = {
      event: 'hello',
      data: { publicKey: networker.publicKey?.toString('hex') ?? null, extension: chat?.name ?? null }
    }
    // The peer set, re-sampled for traffic and age every `trafficInterval` ms while it holds,
    // until `peers$` completes (the networker closed): the sampling timer alone never would.
    const peerSets$ = counted(networker.peers$).pipe(shareReplay({ bufferSize: 1, refCount: true }))
    const peers$ = peerSets$.pipe(
      switchMap((peers) =>
        timer(0, trafficInterval).pipe(
          map((): DashboardEvent => {
            const now = Date.now()
            return { event: 'peers', data: peers.map((peer) => rowOf(peer, now)) }
          })
        )
      ),
      takeUntil(peerSets$.pipe(ignoreElements(), endWith(null)))
    )
    const topics$ = counted(networker.topics$).pipe(
      map((states): DashboardEvent => ({ event: 'topics', data: [...states.values()].map(topicRow) })),
      distinctUntilChanged((a, b) => JSON.stringify(a) === JSON.stringify(b))
    )
    const messages$ =
      chat === undefined
        ? EMPTY
        : counted(networker.messages$(chat)).pipe(
            map(
              ({ message, peer }): DashboardEvent => ({
                event: 'message',
                data: {
                  at: Date.now(),
                  from: b4a.toString(peer.remotePublicKey, 'hex'),
                  name: peerName(peer) ?? null,
                  message: toJsonValue(message)
                }
              })
            )
          )
    const failures$ = counted(networker.errors$).pipe(
      map((err: NetworkerError): DashboardEvent => ({
        event: 'failure',
        data: { at: Date.now(), code: err.code, message: err.message }
      }))
    )
    // peers$ and topics$ complete when the networker closes: then tell the page it ended.
    return merge(peers$, topics$, messages$, failures$).pipe(
      startWith(hello),
      endWith<DashboardEvent>({ event: 'end', data: null })
    )
  }

  const clients = new Set<{ response: http.ServerResponse; subscription: Subscription }>()

  const serveEvents = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    response.write('retry: 2000\n\n')
    const subscription = new Subscription()
    const client = { response, subscription }
    clients.add(client)
    const release = (): void => {
      subscription.unsubscribe()
      clients.delete(client)
    }
    subscription.add(
      events$().subscribe({
        next: ({ event, data }) => {
          response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
        },
        complete: () => {
          release()
          response.end()
        }
      })
    )
    subscription.add(interval(heartbeatInterval).subscribe(() => response.write(': keep-alive\n\n')))
    // The browser left (tab closed, reload, EventSource.close()): release everything it held.
    response.on('close', release)
    request.on('error', release)
  }

  const configureTopic = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) {
      // JSON only: a cross-site form cannot send it without a CORS preflight, which we never allow.
      sendJson(response, 415, { error: 'send application/json' })
      return
    }
    readBody(request)
      .then(async (body) => {
        const input = parseTopicRequest(body)
        if (typeof input === 'string') {
          sendJson(response, 400, { error: input })
          return
        }
        const state = await networker.configure(input.topic, {
          announce: input.announce,
          lookup: input.lookup,
          flush: false
        })
        sendJson(response, 200, topicRow(state))
      })
      .catch((err: unknown) => {
        const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'ERR_REQUEST'
        sendJson(response, code === 'ERR_CLOSED' ? 409 : 400, {
          error: err instanceof Error ? err.message : String(err),
          code
        })
      })
  }

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://dashboard.invalid')
    // Only answer requests addressed to us (defeats DNS rebinding of a loopback server).
    if (!isAllowedHost(request.headers.host, host, (server.address() as AddressInfo).port)) {
      sendJson(response, 403, { error: 'unexpected Host header' })
      return
    }
    if (request.method === 'GET' && url.pathname === '/events') return serveEvents(request, response)
    if (request.method === 'POST' && url.pathname === '/topics') return configureTopic(request, response)
    const file = STATIC_FILES[url.pathname]
    if (request.method === 'GET' && file !== undefined) {
      fs.readFile(file.file, (err, content) => {
        if (err) {
          sendJson(response, 500, { error: `cannot read ${url.pathname}` })
          return
        }
        response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' })
        response.end(content)
      })
      return
    }
    sendJson(response, 404, { error: 'not found' })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`

  let closing: Promise<void> | null = null
  return {
    url,
    get clients() {
      return clients.size
    },
    get subscriptions() {
      return live
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        tracker.unsubscribe()
        for (const client of [...clients]) {
          client.subscription.unsubscribe()
          client.response.end()
        }
        clients.clear()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    }
  }
}

function topicRow(state: TopicState): TopicRow {
  return {
    key: b4a.toString(state.discoveryKey, 'hex'),
    announce: state.announce,
    lookup: state.lookup,
    joined: state.joined,
    flushed: state.flushed
  }
}

/** Makes an extension message safe for JSON: bytes become text (or hex), the rest passes. */
function toJsonValue(message: unknown): unknown {
  if (message instanceof Uint8Array) {
    const text = Buffer.from(message).toString('utf-8')
    return /^[^\u0000-\u0008\u000e-\u001f\ufffd]*$/.test(text) ? text : `0x${Buffer.from(message).toString('hex')}`
  }
  if (typeof message === 'bigint') return message.toString()
  return message ?? null
}

function parseTopicRequest(body: string): { topic: string; announce: boolean; lookup: boolean } | string {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return 'the body is not JSON'
  }
  if (value === null || typeof value !== 'object') return 'send { "topic": "<64 hex>", "announce": true, "lookup": true }'
  const { topic, announce = true, lookup = true } = value as Record<string, unknown>
  if (typeof topic !== 'string' || !HEX_KEY.test(topic)) return 'topic must be 64 hex characters'
  if (typeof announce !== 'boolean' || typeof lookup !== 'boolean') return 'announce and lookup must be booleans'
  return { topic: topic.toLowerCase(), announce, lookup }
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > MAX_BODY) {
        reject(new Error('request body too large'))
        request.destroy()
        return
      }
      chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf-8')))
    request.on('error', reject)
  })
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return
  const json = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
  response.end(json)
}

function isAllowedHost(header: string | undefined, host: string, port: number): boolean {
  if (header === undefined) return false
  const allowed = new Set([`${host}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`])
  return allowed.has(header.toLowerCase())
}
