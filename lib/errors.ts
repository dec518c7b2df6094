/** Every code a `NetworkerError` can carry. Stable: callers switch on them. */
export const ErrorCodes = {
  /** The networker was closed; the call cannot run. */
  ERR_CLOSED: 'ERR_CLOSED',
  /** A discovery key is not 32 bytes or 64 hex characters. */
  ERR_INVALID_KEY: 'ERR_INVALID_KEY',
  /** An option has the wrong type or range. */
  ERR_INVALID_OPTION: 'ERR_INVALID_OPTION',
  /** An extension encoding name is unknown, or a codec lacks encode/decode. */
  ERR_INVALID_ENCODING: 'ERR_INVALID_ENCODING',
  /**
   * An extension name is empty, not a string, longer than 1,024 bytes in UTF-8, or not
   * well-formed Unicode (a lone surrogate: two such names would share one channel).
   */
  ERR_INVALID_NAME: 'ERR_INVALID_NAME',
  /** A message is larger than `maxMessageSize` (outgoing: thrown; incoming: on `errors$`). */
  ERR_MESSAGE_TOO_LARGE: 'ERR_MESSAGE_TOO_LARGE',
  /** `send` was called without a Peer. */
  ERR_INVALID_PEER: 'ERR_INVALID_PEER',
  /** `send` was called with a Peer that is no longer connected. */
  ERR_UNKNOWN_PEER: 'ERR_UNKNOWN_PEER',
  /** The extension was destroyed. */
  ERR_EXTENSION_DESTROYED: 'ERR_EXTENSION_DESTROYED',
  /**
   * Accepted extension messages were not (or not provably) delivered: their peer is gone for
   * good, the extension or the networker was destroyed, or the remote closed the extension.
   * Counted in `stats.dropped`.
   */
  ERR_UNDELIVERED: 'ERR_UNDELIVERED',
  /** A remote resumed an extension lane past messages this side never received (a gap). */
  ERR_MESSAGE_GAP: 'ERR_MESSAGE_GAP',
  /** A remote message could not be decoded with the extension's encoding. */
  ERR_DECODE: 'ERR_DECODE',
  /** A message could not be encoded with the extension's encoding. */
  ERR_ENCODE: 'ERR_ENCODE',
  /** A user's message handler threw. */
  ERR_HANDLER: 'ERR_HANDLER',
  /** Replication could not be started on a connection. */
  ERR_REPLICATION: 'ERR_REPLICATION',
  /** A connection failed (not reported: Hyperswarm's duplicate resolution, a remote reset). */
  ERR_CONNECTION: 'ERR_CONNECTION',
  /** A discovery (announce/lookup) or leave failed. */
  ERR_DISCOVERY: 'ERR_DISCOVERY',
  /** Remembered configurations could not be read or written. */
  ERR_CONFIG_STORE: 'ERR_CONFIG_STORE',
  /** An `onauthenticate` handler refused a connection. */
  ERR_AUTHENTICATION: 'ERR_AUTHENTICATION',
  /**
   * A remote broke the wire protocol of an extension channel: a sequence number out of range,
   * more messages or bytes in flight than its window allows, an acknowledgement of messages
   * never sent, data before its `RESUME`. The connection is closed (the process is not).
   */
  ERR_PROTOCOL: 'ERR_PROTOCOL',
  /**
   * A peer stopped reading an extension: its window stayed full with no acknowledgement for the
   * stall deadline. `drained()` and `broadcast()` stop waiting for it; at most one more window is
   * queued for it, and what is refused beyond is reported as `ERR_UNDELIVERED`.
   */
  ERR_PEER_STALLED: 'ERR_PEER_STALLED',
  /** An old option or value that this stack cannot honour (the message says why and what to use). */
  ERR_UNSUPPORTED: 'ERR_UNSUPPORTED'
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** The one error class of this library: a message, a stable `code`, and the cause if any. */
export class NetworkerError extends Error {
  readonly code: ErrorCode
  /** The remote key (hex) involved, for errors caused by a remote peer. */
  readonly remoteKey: string | null

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; remoteKey?: string | null } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'NetworkerError'
    this.code = code
    this.remoteKey = opts.remoteKey ?? null
  }
}

/** Builds a `NetworkerError`; the factories below keep messages in one place. */
function make(code: ErrorCode, message: string, opts?: { cause?: unknown; remoteKey?: string | null }): NetworkerError {
  return new NetworkerError(code, message, opts)
}

export const errors = {
  closed: (what: string) => make(ErrorCodes.ERR_CLOSED, `${what}: the networker is closed`),
  invalidKey: (got: unknown) =>
    make(ErrorCodes.ERR_INVALID_KEY, `A discovery key must be 32 bytes or 64 hex characters, got ${describe(got)}`),
  invalidOption: (name: string, expected: string, got: unknown) =>
    make(ErrorCodes.ERR_INVALID_OPTION, `Option "${name}" must be ${expected}, got ${describe(got)}`),
  invalidEncoding: (got: unknown) =>
    make(
      ErrorCodes.ERR_INVALID_ENCODING,
      `Unknown encoding ${describe(got)}: use 'binary', 'utf-8', 'json' or a codec with encode/decode`
    ),
  invalidName: (got: unknown, why = 'a non-empty string') =>
    make(ErrorCodes.ERR_INVALID_NAME, `An extension name must be ${why}, got ${describe(got)}`),
  undelivered: (name: string, remoteKey: string, count: number, reason: string) =>
    make(
      ErrorCodes.ERR_UNDELIVERED,
      `Extension "${name}": ${count} message(s) to ${remoteKey.slice(0, 12)}… not acknowledged: ${reason}`,
      { remoteKey }
    ),
  gap: (name: string, remoteKey: string, missing: number) =>
    make(
      ErrorCodes.ERR_MESSAGE_GAP,
      `Extension "${name}": ${missing} message(s) from ${remoteKey.slice(0, 12)}… were skipped by the remote`,
      { remoteKey }
    ),
  protocol: (name: string, remoteKey: string, why: string) =>
    make(ErrorCodes.ERR_PROTOCOL, `Extension "${name}": ${remoteKey.slice(0, 12)}… broke the protocol (${why}); its connection is closed`, {
      remoteKey
    }),
  stalled: (name: string, remoteKey: string, ms: number) =>
    make(
      ErrorCodes.ERR_PEER_STALLED,
      `Extension "${name}": ${remoteKey.slice(0, 12)}… acknowledged nothing for ${ms} ms with its window full; senders no longer wait for it`,
      { remoteKey }
    ),
  tooLarge: (size: number, max: number, remoteKey: string | null = null) =>
    make(ErrorCodes.ERR_MESSAGE_TOO_LARGE, `Message of ${size} bytes exceeds maxMessageSize (${max})`, { remoteKey }),
  invalidPeer: (got: unknown) => make(ErrorCodes.ERR_INVALID_PEER, `send() needs a Peer, got ${describe(got)}`),
  unknownPeer: (remoteKey: string) =>
    make(ErrorCodes.ERR_UNKNOWN_PEER, `Peer ${remoteKey.slice(0, 12)}… is not connected`, { remoteKey }),
  extensionDestroyed: (name: string) =>
    make(ErrorCodes.ERR_EXTENSION_DESTROYED, `Extension "${name}" was destroyed`),
  decode: (name: string, remoteKey: string, cause: unknown) =>
    make(ErrorCodes.ERR_DECODE, `Extension "${name}": could not decode a message from ${remoteKey.slice(0, 12)}…`, {
      cause,
      remoteKey
    }),
  encode: (name: string, cause: unknown) =>
    make(ErrorCodes.ERR_ENCODE, `Extension "${name}": could not encode the message`, { cause }),
  handler: (name: string, remoteKey: string, cause: unknown) =>
    make(ErrorCodes.ERR_HANDLER, `Extension "${name}": a message handler threw`, { cause, remoteKey }),
  replication: (remoteKey: string, cause: unknown) =>
    make(ErrorCodes.ERR_REPLICATION, `Replication with ${remoteKey.slice(0, 12)}… failed`, { cause, remoteKey }),
  connection: (remoteKey: string, cause: unknown) =>
    make(ErrorCodes.ERR_CONNECTION, `Connection to ${remoteKey.slice(0, 12)}… failed: ${messageOf(cause)}`, {
      cause,
      remoteKey
    }),
  discovery: (topic: string, cause: unknown) =>
    make(ErrorCodes.ERR_DISCOVERY, `Discovery for ${topic.slice(0, 12)}… failed: ${messageOf(cause)}`, { cause }),
  configStore: (what: string, cause: unknown) =>
    make(ErrorCodes.ERR_CONFIG_STORE, `Remembered configurations: ${what} failed: ${messageOf(cause)}`, { cause }),
  callbackThrew: (name: string, remoteKey: string, cause: unknown) =>
    make(ErrorCodes.ERR_HANDLER, `The ${name} handler threw: ${messageOf(cause)}`, { cause, remoteKey }),
  unsupported: (what: string, reason: string) => make(ErrorCodes.ERR_UNSUPPORTED, `${what} is not supported: ${reason}`),
  authentication: (remoteKey: string, cause: unknown) =>
    make(ErrorCodes.ERR_AUTHENTICATION, `Connection from ${remoteKey.slice(0, 12)}… refused: ${messageOf(cause)}`, {
      cause,
      remoteKey
    })
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`
  if (typeof value === 'string') return value.length > 80 ? `a string of ${value.length} characters` : JSON.stringify(value)
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}
