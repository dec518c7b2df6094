import c from 'compact-encoding'

/**
 * Wire messages of an extension channel, in this order, all registered as raw bytes and
 * decoded here (inside try/catch by the caller): a remote can never make Protomux throw.
 *
 * - `DATA`: one application message; its sequence number is implicit (the channel's resume
 *   point plus its position on the channel).
 * - `ACK`: `uint` — the sender's messages below this number were delivered.
 * - `RESUME`: `uint seq, uint32 epoch` — the first message of this channel is number `seq` of
 *   the sender's session `epoch`. Sent first on every channel.
 */
export const MSG_DATA = 0
export const MSG_ACK = 1
export const MSG_RESUME = 2

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
