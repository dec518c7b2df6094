/**
 * Shared pieces of the remote tests: a client factory (Node: `ws`'s WebSocket), a fake networker
 * made of Subjects for tests that do not need the network, and a raw WebSocket helper for
 * hostile clients.
 */
import { BehaviorSubject, Observable, Subject } from 'rxjs'
import WebSocket from 'ws'
import { connectNetworker, type ConnectOptions, type RemoteNetworker } from '../../lib/remote/client'
import { SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX, bytesToHex, utf8Bytes } from '../../lib/remote/protocol'
import type { ServedExtension, ServedNetworker } from '../../lib/remote/server'
import type { LocalPeerLike, LocalTopicStateLike } from '../../lib/remote/streams'

/** Clients made by `clients.connect`, all closed by `clients.closeAll()`. */
export interface ClientKit {
  connect(url: string, opts?: ConnectOptions): RemoteNetworker
  closeAll(): void
}

export function clientKit(): ClientKit {
  const made: RemoteNetworker[] = []
  return {
    connect: (url, opts = {}) => {
      const client = connectNetworker(url, {
        WebSocketCtor: WebSocket,
        reconnect: { initialDelay: 50, maxDelay: 400 },
        ...opts
      })
      made.push(client)
      return client
    },
    closeAll: () => {
      for (const client of made.splice(0)) client.close()
    }
  }
}

/** A networker made of Subjects: drive it with `.peers.next(...)`, `.message(...)`. */
export interface FakeNetworker extends ServedNetworker {
  readonly peers: BehaviorSubject<readonly LocalPeerLike[]>
  readonly topics: BehaviorSubject<ReadonlyMap<string, LocalTopicStateLike>>
  readonly chat: FakeExtension
  /** Live subscriptions to any of its streams. */
  readonly live: () => number
  end(): void
}

export interface FakeExtension extends ServedExtension {
  readonly incoming: Subject<{ message: unknown; peer: LocalPeerLike }>
  readonly sent: Array<{ message: unknown; peer: LocalPeerLike | null }>
}

export function fakeNetworker(): FakeNetworker {
  let live = 0
  const counted = <T>(source: Observable<T>): Observable<T> =>
    new Observable<T>((subscriber) => {
      live++
      const sub = source.subscribe(subscriber)
      return () => {
        live--
        sub.unsubscribe()
      }
    })
  const peers = new BehaviorSubject<readonly LocalPeerLike[]>([])
  const topics = new BehaviorSubject<ReadonlyMap<string, LocalTopicStateLike>>(new Map())
  const peerEvents = new Subject<{ type: 'add' | 'remove' | 'swap'; peer: LocalPeerLike }>()
  const errors = new Subject<{ code: string; message: string }>()
  const incoming = new Subject<{ message: unknown; peer: LocalPeerLike }>()
  const sent: FakeExtension['sent'] = []
  const chat: FakeExtension = {
    name: 'chat',
    encoding: 'json',
    incoming,
    sent,
    send: (message, peer) => {
      sent.push({ message, peer })
      return true
    },
    broadcast: (message) => {
      sent.push({ message, peer: null })
      return true
    },
    // Never full, so always drained.
    drained: () => Promise.resolve()
  }
  return {
    peers,
    topics,
    chat,
    live: () => live,
    publicKey: new Uint8Array(32).fill(9),
    peers$: counted(peers),
    peerEvents$: counted(peerEvents),
    topics$: counted(topics),
    errors$: counted(errors),
    messages$: (ext) => (ext.name === 'chat' ? counted(incoming) : new Observable()),
    configure: async (key, opts) => {
      const state = {
        discoveryKey: Buffer.from(key, 'hex'),
        announce: opts.announce,
        lookup: opts.lookup,
        joined: opts.announce || opts.lookup,
        flushed: opts.flush
      }
      const next = new Map(topics.value)
      if (state.joined) next.set(key, state)
      else next.delete(key)
      topics.next(next)
      return state
    },
    end: () => {
      peers.complete()
      topics.complete()
      peerEvents.complete()
      errors.complete()
      incoming.complete()
    }
  }
}

/** A fake local peer with key byte `n`. */
export function fakePeer(n: number, port = 10000 + n): LocalPeerLike {
  return { remotePublicKey: new Uint8Array(32).fill(n), remoteAddress: `127.0.0.1:${port}` }
}

/** A raw client: what it received, and how it was closed. */
export interface RawClient {
  readonly ws: WebSocket
  readonly received: string[]
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>
  /** Resolves once open (rejects if the handshake fails). */
  readonly opened: Promise<void>
}

/** A raw WebSocket to the server, offering our subprotocol (and the token, if given). */
export function rawClient(
  url: string,
  opts: { token?: string; origin?: string; protocols?: string[]; headers?: Record<string, string> } = {}
): RawClient {
  const protocols =
    opts.protocols ?? [SUBPROTOCOL, ...(opts.token === undefined ? [] : [TOKEN_PROTOCOL_PREFIX + bytesToHex(utf8Bytes(opts.token))])]
  const ws = new WebSocket(url, protocols, { origin: opts.origin, headers: opts.headers })
  const received: string[] = []
  ws.on('error', () => {})
  ws.on('message', (data) => received.push(String(data)))
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
  )
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
  opened.catch(() => {})
  return { ws, received, closed, opened }
}
