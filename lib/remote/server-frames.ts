/**
 * The server's side of the frames of docs/remote.md: a client frame checked field by field
 * before anything acts on it, and values and errors put in the shape the wire carries.
 */
import type { RawData } from 'ws'
import {
  RemoteErrorCodes,
  bytesToHex,
  isHexKey,
  type ClientFrame,
  type JsonValue,
  type RemoteMessage,
  type WireMessage
} from './protocol'

/** A client's `sub` frame. */
export type SubFrame = Extract<ClientFrame, { op: 'sub' }>
/** A client's command: `configure`, `send` or `drained`. */
export type CommandFrame = Extract<ClientFrame, { op: 'configure' | 'send' | 'drained' }>
/** A client's `send` command. */
export type SendFrame = Extract<ClientFrame, { op: 'send' }>

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
      if (frame.stream === 'metrics') {
        if (frame.interval === undefined) return { op: 'sub', id, stream: 'metrics' }
        if (typeof frame.interval !== 'number') return 'interval must be a number'
        return { op: 'sub', id, stream: 'metrics', interval: frame.interval }
      }
      if (frame.stream === 'progress') {
        if (!isHexKey(frame.key)) return 'key must be 64 hex characters'
        return { op: 'sub', id, stream: 'progress', key: frame.key.toLowerCase() }
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
    case 'drained':
      if (typeof frame.name !== 'string' || frame.name.length === 0) return 'name must be a string'
      return { op: 'drained', id, name: frame.name }
    default:
      return 'unknown op'
  }
}

/** The text of a WebSocket message, however `ws` handed it over. */
export function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf-8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf-8')
  return Buffer.from(data).toString('utf-8')
}

/** The size in bytes of a WebSocket message, however `ws` handed it over. */
export function rawByteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, chunk) => sum + chunk.byteLength, 0)
  return data.byteLength
}

/** An extension message for the wire: bytes as hex with `binary: true`. */
export function toWireMessage({ message, peer }: RemoteMessage<unknown>): WireMessage {
  if (message instanceof Uint8Array) return { peer, message: bytesToHex(message), binary: true }
  return { peer, message: message === undefined ? null : (message as JsonValue) }
}

/** The code and message an `error` or failed `result` frame carries for `err`. */
export function describeError(err: unknown): { code: string; message: string } {
  const code =
    typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : RemoteErrorCodes.ERR_COMMAND
  return { code, message: err instanceof Error ? err.message : String(err) }
}

/** An error with a remote error code, for a command's failed `result`. */
export function coded(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code })
}
