/**
 * The wire protocol and the value types of `@basestore/networker/remote`, shared by the server
 * (Node) and the client (browser and Node). Browser-safe: no Node built-ins, no `Buffer`, and
 * no type of another package but RxJS.
 *
 * Keys are lowercase hex strings everywhere on the remote side (64 characters for a 32-byte
 * key): they are what JSON carries, what a template prints, and what `topics$` is keyed by.
 *
 * Frames are JSON text, one object per WebSocket message; docs/remote.md describes them.
 */
import type { Observable } from 'rxjs'
import type { CoreMetrics, CoreProgress, MetricsOptions, NetworkerMetrics } from '../metrics/types'

/**
 * The protocol version the server announces in its `hello` frame. 2 added the `drained` command
 * and the `send` result `{ accepted, full, waiting }` (a version-1 server answers `send` with
 * null and does not know `drained`). 3 added the `metrics` and `progress` streams (an older
 * server closes a client that subscribes to them with 4400).
 */
export const PROTOCOL_VERSION = 3
/** The WebSocket subprotocol both sides speak. */
export const SUBPROTOCOL = 'networker.v1'
/** Prefix of the subprotocol entry that carries the token (hex of its UTF-8 bytes). */
export const TOKEN_PROTOCOL_PREFIX = 'networker.token.'

/**
 * Close codes. 1000–1015 are WebSocket's own; 4000–4999 are ours. The client reconnects after
 * the codes marked "reconnects" and stops for good (`connection$` → `closed`) after the others.
 */
export const CloseCodes = {
  /** The client closed (reconnects: no, the client asked for it). */
  NORMAL: 1000,
  /** The server is shutting down or restarting (reconnects). */
  GOING_AWAY: 1001,
  /** A frame was larger than the server's `maxFrameBytes` (stops). */
  TOO_LARGE: 1009,
  /** The networker behind the server closed: its streams complete (stops). */
  NETWORKER_CLOSED: 4000,
  /** The client could not keep up: its send buffer passed `maxBufferedBytes` (reconnects). */
  TOO_SLOW: 4008,
  /** A malformed frame: not JSON, unknown op, bad fields, binary (stops). */
  BAD_FRAME: 4400,
  /** Missing or wrong token (stops). */
  UNAUTHORIZED: 4401,
  /** The page's origin is not allowed (stops). */
  FORBIDDEN_ORIGIN: 4403,
  /** The server has `maxClients` clients already (reconnects, with backoff). */
  TOO_MANY_CLIENTS: 4429
} as const

/** Close codes after which a client stops instead of reconnecting. */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set<number>([
  CloseCodes.NORMAL,
  CloseCodes.TOO_LARGE,
  CloseCodes.NETWORKER_CLOSED,
  CloseCodes.BAD_FRAME,
  CloseCodes.UNAUTHORIZED,
  CloseCodes.FORBIDDEN_ORIGIN
])

/** Error codes of remote errors (on top of the networker's own `ERR_*` codes on `errors$`). */
export const RemoteErrorCodes = {
  /** `messages$(name)`, `send` or `drained` for an extension the server does not publish. */
  ERR_UNKNOWN_EXTENSION: 'ERR_UNKNOWN_EXTENSION',
  /** A command (`configure`, `send`, `drained`) while the server has `commands` off. */
  ERR_COMMANDS_OFF: 'ERR_COMMANDS_OFF',
  /** A command while the client is not connected, or the connection dropped before the answer. */
  ERR_NOT_CONNECTED: 'ERR_NOT_CONNECTED',
  /** `send` to a peer that is not connected to the server's networker. */
  ERR_UNKNOWN_PEER: 'ERR_UNKNOWN_PEER',
  /** The client was closed, or the server refused or ended the connection for good. */
  ERR_CLOSED: 'ERR_CLOSED',
  /** A command failed on the server (its message says why). */
  ERR_COMMAND: 'ERR_COMMAND',
  /**
   * A `send` refused because this client already has `maxWaitingSends` messages (or
   * `maxWaitingSendBytes`) waiting behind full extension windows: nothing was queued. Wait for
   * `drained(name)`, then send again.
   */
  ERR_BACKPRESSURE: 'ERR_BACKPRESSURE',
  /**
   * `progress$(discoveryKey)` for a key with no core open in the served store (or a server
   * started without `store`).
   */
  ERR_UNKNOWN_CORE: 'ERR_UNKNOWN_CORE',
  /** `metrics$` or `progress$` of a served networker that has no metrics (no `metrics$`/`progress$`). */
  ERR_NO_METRICS: 'ERR_NO_METRICS'
} as const

// ── values, as a client sees them ─────────────────────────────────────────────────────────────

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** What an extension message can be on the remote side: JSON, a string, or bytes. */
export type RemoteValue = JsonValue | Uint8Array

/**
 * A peer of the served networker. Like a local `Peer` without the `stream`, with the key in hex.
 * Objects are frozen; the client hands out the same object for a key while its address holds.
 */
export interface RemotePeer {
  /** The remote's Noise public key, 64 lowercase hex characters. */
  readonly remotePublicKey: string
  /** `host:port` of its current connection. */
  readonly remoteAddress: string
  readonly type: 'udx'
}

/** `peerEvents$` values. */
export interface RemotePeerEvent {
  readonly type: 'add' | 'remove' | 'swap'
  readonly peer: RemotePeer
}

/** A topic's state, as a local `TopicState` with the key in hex. */
export interface RemoteTopicState {
  /** 64 lowercase hex characters; also the key of this state in `topics$`. */
  readonly discoveryKey: string
  readonly announce: boolean
  readonly lookup: boolean
  readonly joined: boolean
  readonly flushed: boolean
}

/** An operational error of the served networker (`errors$`), or a refusal of the server. */
export interface RemoteError {
  readonly name: 'RemoteError'
  readonly code: string
  readonly message: string
  /** The remote key (hex) involved, for errors caused by a remote peer. */
  readonly remoteKey: string | null
}

/** A message of a published extension with the peer it came from. */
export interface RemoteMessage<T = RemoteValue> {
  readonly message: T
  readonly peer: RemotePeer
}

/** What the server says about itself when a client connects (`server$`). */
export interface RemoteServerInfo {
  readonly version: number
  /** The served networker's public key (hex), or null before it listens. */
  readonly publicKey: string | null
  /** The extensions whose messages may be subscribed (and, with commands on, sent). */
  readonly extensions: readonly string[]
  /** Whether `configure`, `leave`, `send` and `drained` are accepted. */
  readonly commands: boolean
}

/**
 * One core of a remote metrics sample: a local `CoreMetrics` without `key` (the core's read
 * capability never leaves the server; the discovery key identifies the core).
 */
export type RemoteCoreMetrics = Omit<CoreMetrics, 'key'>

/** A `metrics$` sample seen from afar: the local `NetworkerMetrics` with cores without `key`. */
export interface RemoteNetworkerMetrics extends Omit<NetworkerMetrics, 'cores'> {
  /** The cores being replicated, by discovery key (hex). */
  readonly cores: Readonly<Record<string, RemoteCoreMetrics>>
}

/** A core's replication progress seen from afar: the local `CoreProgress` as it is. */
export type RemoteCoreProgress = CoreProgress

/** Options of a remote `metrics$`: the local ones (`interval`, ms, at least 100, default 1000). */
export type RemoteMetricsOptions = MetricsOptions

/**
 * The observable surface of a networker seen from afar: `connectNetworker` returns one, and
 * `toRemoteStreams` makes one of a local or virtual networker (for marble tests).
 *
 * It is `NetworkerStreams` with remote values: peers without `stream`, keys in hex, and
 * `messages$` by extension name (the remote side has no `Extension` object).
 */
export interface RemoteNetworkerStreams {
  /** Hot. The current peers (replayed to a new subscriber once known), then every change. */
  readonly peers$: Observable<readonly RemotePeer[]>
  /** Hot, no replay: add, remove and swap events. */
  readonly peerEvents$: Observable<RemotePeerEvent>
  /** Hot. The joined topics keyed by hex discovery key (replayed once known), then changes. */
  readonly topics$: Observable<ReadonlyMap<string, RemoteTopicState>>
  /** Hot, no replay: operational errors of the served networker. */
  readonly errors$: Observable<RemoteError>
  /** Hot. One topic's state (not joined if unknown), distinct. The key: 64 hex or 32 bytes. */
  topic$(discoveryKey: string | Uint8Array): Observable<RemoteTopicState>
  /** Hot, no replay: the messages of a published extension. */
  messages$<T = RemoteValue>(name: string): Observable<RemoteMessage<T>>
  /**
   * Hot: the served networker's `metrics$` samples (one every `interval` ms), each core without
   * its `key`. Errors with `ERR_INVALID_OPTION` for a bad interval, `ERR_NO_METRICS` if the
   * served networker has none.
   */
  metrics$(opts?: RemoteMetricsOptions): Observable<RemoteNetworkerMetrics>
  /**
   * Hot: the replication progress of the core open in the served store with this discovery key
   * (64 hex or 32 bytes), as the local `progress$(core)`: the current value, then changes;
   * completes when the core closes. Errors with `ERR_UNKNOWN_CORE` if no such core is open.
   */
  progress$(discoveryKey: string | Uint8Array): Observable<RemoteCoreProgress>
}

/**
 * What a `send` command answers: the message was accepted (a refusal rejects instead), and
 * whether the window it went into is now full, as a local `send()` returning false.
 */
export interface RemoteSendResult {
  readonly accepted: true
  /**
   * The window of that peer (of some peer, for a broadcast) is full: the message waits behind
   * it and counts against this client's `maxWaitingSends`. Wait for `drained(name)` before
   * sending more.
   */
  readonly full: boolean
  /** This client's messages now waiting behind full windows, over all extensions. */
  readonly waiting: number
}

/** `connection$` values. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** Why a connection ended (the WebSocket close code and reason). */
export interface CloseInfo {
  readonly code: number
  readonly reason: string
}

// ── frames ────────────────────────────────────────────────────────────────────────────────────

/** The streams a client can subscribe to. */
export type StreamName = 'peers' | 'peerEvents' | 'topics' | 'errors' | 'messages' | 'metrics' | 'progress'

/** An extension message on the wire: bytes travel as hex with `binary: true`. */
export interface WireMessage {
  readonly peer: RemotePeer
  readonly message: JsonValue
  readonly binary?: true
}

/** Frames a client sends. */
export type ClientFrame =
  | { readonly op: 'sub'; readonly id: number; readonly stream: Exclude<StreamName, 'messages' | 'metrics' | 'progress'> }
  | { readonly op: 'sub'; readonly id: number; readonly stream: 'messages'; readonly name: string }
  | { readonly op: 'sub'; readonly id: number; readonly stream: 'metrics'; readonly interval?: number }
  /** `key`: a discovery key, 64 lowercase hex characters. */
  | { readonly op: 'sub'; readonly id: number; readonly stream: 'progress'; readonly key: string }
  | { readonly op: 'unsub'; readonly id: number }
  | {
      readonly op: 'configure'
      readonly id: number
      readonly key: string
      readonly announce: boolean
      readonly lookup: boolean
      readonly flush: boolean
    }
  | {
      readonly op: 'send'
      readonly id: number
      readonly name: string
      readonly message: JsonValue
      readonly binary?: true
      /** A peer's key (hex); without it the message is broadcast. */
      readonly peer?: string
    }
  | { readonly op: 'drained'; readonly id: number; readonly name: string }

/**
 * Frames the server sends. `next`/`error`/`complete` answer a `sub`, `result` a command. One
 * WebSocket message holds one frame, or a JSON array of frames to be handled in order.
 */
export type ServerFrame =
  | ({ readonly op: 'hello' } & RemoteServerInfo)
  | { readonly op: 'next'; readonly id: number; readonly value: JsonValue | object }
  | { readonly op: 'error'; readonly id: number; readonly code: string; readonly message: string }
  | { readonly op: 'complete'; readonly id: number }
  | { readonly op: 'result'; readonly id: number; readonly ok: true; readonly value: JsonValue | object | null }
  | { readonly op: 'result'; readonly id: number; readonly ok: false; readonly code: string; readonly message: string }

// ── helpers (browser-safe) ───────────────────────────────────────────────────────────────────

const HEX_DIGITS = '0123456789abcdef'
const HEX_KEY = /^[0-9a-fA-F]{64}$/
const HEX = /^(?:[0-9a-fA-F]{2})*$/

/** Bytes as lowercase hex. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += HEX_DIGITS[bytes[i] >> 4] + HEX_DIGITS[bytes[i] & 15]
  return out
}

/** Hex (even length) as bytes; throws a TypeError for anything else. */
export function hexToBytes(hex: string): Uint8Array {
  if (typeof hex !== 'string' || !HEX.test(hex)) throw new TypeError('not a hex string')
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** Whether `value` is 64 hex characters. */
export function isHexKey(value: unknown): value is string {
  return typeof value === 'string' && HEX_KEY.test(value)
}

/** A discovery key (64 hex or 32 bytes) as lowercase hex; throws a TypeError otherwise. */
export function toHexKey(key: string | Uint8Array): string {
  if (typeof key === 'string' && HEX_KEY.test(key)) return key.toLowerCase()
  if (key instanceof Uint8Array && key.byteLength === 32) return bytesToHex(key)
  throw new TypeError('A discovery key must be 32 bytes or 64 hex characters')
}

/** UTF-8 bytes of a string (no TextEncoder needed, so it runs wherever the client runs). */
export function utf8Bytes(text: string): Uint8Array {
  const out: number[] = []
  for (const char of text) {
    const cp = char.codePointAt(0) as number
    if (cp < 0x80) out.push(cp)
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63))
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63))
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63))
  }
  return Uint8Array.from(out)
}

/** The subprotocol list a client offers: ours, plus the token if any. */
export function clientProtocols(token: string | undefined): string[] {
  return token === undefined ? [SUBPROTOCOL] : [SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX + bytesToHex(utf8Bytes(token))]
}

/** A `RemoteError` value. */
export function remoteError(code: string, message: string, remoteKey: string | null = null): RemoteError {
  return Object.freeze({ name: 'RemoteError' as const, code, message, remoteKey })
}

/** The state of a topic nobody configured. */
export function notJoinedState(discoveryKey: string): RemoteTopicState {
  return Object.freeze({ discoveryKey, announce: false, lookup: false, joined: false, flushed: false })
}

/** Whether two topic states are the same. */
export function sameRemoteState(a: RemoteTopicState, b: RemoteTopicState): boolean {
  return (
    a.discoveryKey === b.discoveryKey &&
    a.announce === b.announce &&
    a.lookup === b.lookup &&
    a.joined === b.joined &&
    a.flushed === b.flushed
  )
}
