import c from 'compact-encoding'
import type Protomux from 'protomux'

/**
 * Wire messages of an extension channel, in this order, all received as raw bytes and decoded
 * here (inside try/catch by the caller): a remote can never make Protomux throw.
 *
 * - `DATA`: one application message; its sequence number is implicit (the channel's resume
 *   point plus its position on the channel).
 * - `ACK`: `uint` — the sender's messages below this number were delivered.
 * - `RESUME`: `uint seq, uint32 epoch` — the first message of this channel is number `seq` of
 *   the sender's session `epoch`. Sent first on every channel.
 * - `BATCH`: several application messages in one, each as `uint length` + bytes; they take
 *   the next sequence numbers in order, as that many `DATA` would.
 */
export const MSG_DATA = 0
export const MSG_ACK = 1
export const MSG_RESUME = 2
export const MSG_BATCH = 3

export function encodeAck(upTo: number): Uint8Array {
  return c.encode(c.uint, upTo)
}

export function decodeAck(bytes: Uint8Array): number {
  return c.decode(c.uint, bytes)
}

export function encodeResume(seq: number, epoch: number): Uint8Array {
  const state = c.state()
  c.uint.preencode(state, seq)
  c.uint32.preencode(state, epoch)
  state.buffer = Buffer.allocUnsafe(state.end)
  c.uint.encode(state, seq)
  c.uint32.encode(state, epoch)
  return state.buffer
}

export function decodeResume(bytes: Uint8Array): { seq: number; epoch: number } {
  const state = c.state(0, bytes.byteLength, bytes)
  const seq = c.uint.decode(state)
  const epoch = c.uint32.decode(state)
  return { seq, epoch }
}

/** What a `BATCH` message is: a list of messages to send; on receipt, its bytes (see `readBatch`). */
export type BatchWire = Uint8Array | readonly Uint8Array[]

/**
 * The `BATCH` message's Protomux encoding. Sending, it writes each message's length and bytes
 * straight into the frame Protomux allocates (one copy, no buffer per message); receiving, it
 * hands over the bytes untouched, so a malformed batch is parsed by `readBatch` inside the
 * caller's try/catch and can never make Protomux throw. Lengths are compact-encoding `uint`s
 * (at most 4 bytes here: a message is below `MAX_MESSAGE_SIZE_LIMIT`).
 */
export const batchEncoding: Protomux.Encoding<BatchWire> = {
  preencode(state, value) {
    if (value instanceof Uint8Array) {
      state.end += value.byteLength
      return
    }
    let size = 0
    for (let i = 0; i < value.length; i++) {
      const n = value[i].byteLength
      size += (n <= 0xfc ? 1 : n <= 0xffff ? 3 : 5) + n
    }
    state.end += size
  },
  encode(state, value) {
    const buffer = state.buffer as Uint8Array
    if (value instanceof Uint8Array) {
      buffer.set(value, state.start)
      state.start += value.byteLength
      return
    }
    let at = state.start
    for (let i = 0; i < value.length; i++) {
      const message = value[i]
      const n = message.byteLength
      if (n <= 0xfc) {
        buffer[at++] = n
      } else if (n <= 0xffff) {
        buffer[at++] = 0xfd
        buffer[at++] = n & 0xff
        buffer[at++] = n >>> 8
      } else {
        buffer[at++] = 0xfe
        buffer[at++] = n & 0xff
        buffer[at++] = (n >>> 8) & 0xff
        buffer[at++] = (n >>> 16) & 0xff
        buffer[at++] = n >>> 24
      }
      buffer.set(message, at)
      at += n
    }
    state.start = at
  },
  decode(state) {
    const bytes = (state.buffer as Uint8Array).subarray(state.start, state.end)
    state.start = state.end
    return bytes
  }
}

/**
 * Reads the messages of a received `BATCH` in order, each a view of the batch's bytes (no
 * copy). `next()` returns null at the end, and also when the rest cannot be read (a truncated
 * length or message); `malformed` then says so.
 */
export class BatchReader {
  private at = 0
  malformed = false

  constructor(private readonly bytes: Uint8Array) {}

  next(): Uint8Array | null {
    const bytes = this.bytes
    const end = bytes.byteLength
    let at = this.at
    if (at >= end) return null
    const first = bytes[at]
    let length: number
    if (first <= 0xfc) {
      length = first
      at += 1
    } else if (first === 0xfd && at + 3 <= end) {
      length = bytes[at + 1] | (bytes[at + 2] << 8)
      at += 3
    } else if (first === 0xfe && at + 5 <= end) {
      length = (bytes[at + 1] | (bytes[at + 2] << 8) | (bytes[at + 3] << 16)) + bytes[at + 4] * 0x1000000
      at += 5
    } else {
      return this.fail() // truncated, or an 8-byte length (never written: messages are far smaller)
    }
    if (at + length > end) return this.fail()
    this.at = at + length
    return bytes.subarray(at, at + length)
  }

  private fail(): null {
    this.malformed = true
    this.at = this.bytes.byteLength
    return null
  }
}
