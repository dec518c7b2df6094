import fc from 'fast-check'
import { Lane, LaneCounters, WindowLimits } from '../../lib/extensions/lane'

/**
 * The per-lane window/outbox is pure: these tests drive a sending Lane and a receiving Lane
 * through a simulated connection (two in-order queues that a swap cuts), with no sockets.
 */

function counters(): LaneCounters {
  return { sent: 0, resent: 0 }
}

function msg(i: number, size = 4): Uint8Array {
  const bytes = new Uint8Array(size)
  new DataView(bytes.buffer).setUint32(0, i, true)
  return bytes
}

const valueOf = (bytes: Uint8Array): number => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)

describe('Lane (sending side)', () => {
  test('takes at most a window of messages, then waits for acknowledgements', () => {
    const lane = new Lane(1, { messages: 3, bytes: 1000 }, counters())
    for (let i = 0; i < 5; i++) lane.accept(msg(i))
    expect(lane.take()).toBeNull() // not connected
    expect(lane.connect()).toBe(0)
    const taken: number[] = []
    for (let b = lane.take(); b !== null; b = lane.take()) taken.push(valueOf(b))
    expect(taken).toEqual([0, 1, 2])
    expect(lane.ack(2)).toBe('ok')
    for (let b = lane.take(); b !== null; b = lane.take()) taken.push(valueOf(b))
    expect(taken).toEqual([0, 1, 2, 3, 4])
    expect(lane.unacknowledged).toBe(3)
  })

  test('the byte window limits what is in flight, but one larger message still goes alone', () => {
    const lane = new Lane(1, { messages: 100, bytes: 10 }, counters())
    lane.accept(msg(0, 8))
    lane.accept(msg(1, 8))
    lane.accept(msg(2, 50))
    lane.connect()
    expect(valueOf(lane.take() as Uint8Array)).toBe(0)
    expect(lane.take()).toBeNull()
    lane.ack(1)
    expect(valueOf(lane.take() as Uint8Array)).toBe(1)
    expect(lane.take()).toBeNull()
    lane.ack(2)
    expect(valueOf(lane.take() as Uint8Array)).toBe(2)
  })

  test('accept() reports whether the window still has room; nothing is ever refused', () => {
    const lane = new Lane(1, { messages: 2, bytes: 1000 }, counters())
    expect(lane.accept(msg(0))).toBe(true)
    expect(lane.accept(msg(1))).toBe(false)
    expect(lane.accept(msg(2))).toBe(false)
    expect(lane.unacknowledged).toBe(3)
  })

  test('a reconnection resends exactly the unacknowledged in-flight messages, counted as resent', () => {
    const c = counters()
    const lane = new Lane(1, { messages: 4, bytes: 1000 }, c)
    for (let i = 0; i < 10; i++) lane.accept(msg(i))
    lane.connect()
    while (lane.take() !== null);
    lane.ack(1)
    lane.disconnect()
    expect(lane.connect()).toBe(1)
    const again: number[] = []
    for (let b = lane.take(); b !== null; b = lane.take()) again.push(valueOf(b))
    expect(again).toEqual([1, 2, 3, 4])
    expect(c).toEqual({ sent: 5, resent: 3 })
  })

  test('acknowledged buffers are released; stale and out-of-range acks are told apart', () => {
    const lane = new Lane(1, { messages: 10, bytes: 1000 }, counters())
    for (let i = 0; i < 3; i++) lane.accept(msg(i))
    lane.connect()
    lane.take()
    expect(lane.ack(2)).toBe('invalid') // only one was ever written
    expect(lane.ack(1)).toBe('ok')
    expect(lane.ack(1)).toBe('stale')
    expect(lane.unacknowledgedBytes).toBe(8)
    expect(lane.drop()).toBe(2)
    expect(lane.unacknowledged).toBe(0)
  })
})

describe('Lane (receiving side)', () => {
  test('duplicates of an earlier connection are recognised; the ack is repeated on the new one', () => {
    const lane = new Lane(9, { messages: 10, bytes: 1000 }, counters())
    expect(lane.resume(0, 7)).toBe(0)
    for (let seq = 0; seq < 3; seq++) {
      expect(lane.arrive(seq)).toBe('deliver')
      lane.markDelivered(seq, 7)
    }
    expect(lane.ackDue(true)).toBe(3)
    expect(lane.ackDue(true)).toBeNull()
    expect(lane.resume(1, 7)).toBe(0) // the ack of 3 was lost with the old connection
    expect(lane.arrive(1)).toBe('duplicate')
    expect(lane.arrive(2)).toBe('duplicate')
    expect(lane.ackDue(true)).toBe(3)
    expect(lane.arrive(3)).toBe('deliver')
  })

  test('a resume past what arrived is a gap, reported, not skipped silently', () => {
    const lane = new Lane(9, { messages: 10, bytes: 1000 }, counters())
    lane.resume(0, 7)
    lane.arrive(0)
    expect(lane.resume(5, 7)).toBe(4)
    expect(lane.resume(0, 8)).toBe(0) // a new sender session starts fresh
  })
})

type Op =
  | { type: 'send'; count: number; size: number }
  | { type: 'flush'; batchBytes: number }
  | { type: 'wire'; count: number }
  | { type: 'consume'; count: number }
  | { type: 'acks'; count: number }
  | { type: 'swap'; keep: number }
  | { type: 'asymmetricSwap'; keep: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ type: fc.constant('send' as const), count: fc.integer({ min: 1, max: 20 }), size: fc.integer({ min: 1, max: 40 }) }),
  // batchBytes 0: one take() at a time; otherwise takeInto() batches of at most that many bytes.
  fc.record({ type: fc.constant('flush' as const), batchBytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 120 })) }),
  fc.record({ type: fc.constant('wire' as const), count: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ type: fc.constant('consume' as const), count: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ type: fc.constant('acks' as const), count: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ type: fc.constant('swap' as const), keep: fc.nat({ max: 40 }) }),
  // Only the sender sees a swap: the receiver removed the peer (its deliveries still queued are
  // gone) and made a new lane for it, continuing what it remembered of the old one.
  fc.record({ type: fc.constant('asymmetricSwap' as const), keep: fc.nat({ max: 40 }) })
)

type Frame = { kind: 'data'; bytes: Uint8Array } | { kind: 'resume'; seq: number; epoch: number }

/**
 * Runs one interleaving. The sender's frames travel in order on the current connection; a
 * swap delivers some prefix of what was in transit (both ways) and loses the rest, then the
 * sender resumes on a new connection. The receiver delivers from a queue at its own pace and
 * acknowledges what it delivered.
 */
function run(ops: readonly Op[], limits: WindowLimits, goneAtEnd: boolean) {
  const sender = new Lane(0xabc, limits, counters())
  let receiver = new Lane(0xdef, limits, counters())
  let toReceiver: Frame[] = []
  let toSender: number[] = []
  let channelExpect = 0
  const queue: Array<{ seq: number; epoch: number | null; value: number }> = []
  const accepted: number[] = []
  const delivered: number[] = []
  let maxInFlight = 0
  const connect = (): void => {
    toReceiver.push({ kind: 'resume', seq: sender.connect(), epoch: sender.epoch })
  }
  const flush = (batchBytes = 0): void => {
    const ack = receiver.ackDue(true)
    if (ack !== null) toSender.push(ack)
    if (batchBytes === 0) {
      for (let b = sender.take(); b !== null; b = sender.take()) toReceiver.push({ kind: 'data', bytes: b })
    } else {
      const out: Uint8Array[] = []
      for (let n = sender.takeInto(out, batchBytes); n > 0; n = sender.takeInto(out, batchBytes)) {
        const size = out.reduce((sum, b) => sum + b.byteLength, 0)
        if (n !== out.length || (n > 1 && size > batchBytes)) throw new Error('takeInto overfilled a batch')
        for (const bytes of out.splice(0)) toReceiver.push({ kind: 'data', bytes })
      }
    }
    maxInFlight = Math.max(maxInFlight, sender.inFlightMessages)
    if (sender.inFlightMessages > 1 && sender.inFlightByteCount > limits.bytes) throw new Error('byte window exceeded')
  }
  const wire = (count: number): void => {
    for (const frame of toReceiver.splice(0, count)) {
      if (frame.kind === 'resume') {
        channelExpect = frame.seq
        if (receiver.resume(frame.seq, frame.epoch) > 0) throw new Error('gap')
      } else {
        const seq = channelExpect++
        const arrived = receiver.arrive(seq)
        // An honest sender never runs past the window the receiver can vouch for.
        if (arrived === 'overrun') throw new Error(`overrun at ${seq}`)
        if (arrived === 'deliver') queue.push({ seq, epoch: receiver.remoteEpoch, value: valueOf(frame.bytes) })
      }
    }
  }
  const consume = (count: number): void => {
    for (const item of queue.splice(0, count)) {
      delivered.push(item.value)
      receiver.markDelivered(item.seq, item.epoch)
    }
  }
  const acks = (count: number): void => {
    for (const upTo of toSender.splice(0, count)) if (sender.ack(upTo) === 'invalid') throw new Error('invalid ack')
  }
  connect()
  for (const op of ops) {
    if (op.type === 'send') {
      for (let i = 0; i < op.count; i++) {
        sender.accept(msg(accepted.length, Math.max(4, op.size)))
        accepted.push(accepted.length)
      }
    } else if (op.type === 'flush') flush(op.batchBytes)
    else if (op.type === 'wire') wire(op.count)
    else if (op.type === 'consume') consume(op.count)
    else if (op.type === 'acks') acks(op.count)
    else if (op.type === 'asymmetricSwap') {
      wire(op.keep)
      acks(op.keep)
      toReceiver = []
      toSender = []
      queue.length = 0
      const remembered = receiver.receiveState()
      receiver = new Lane(0xfed, limits, counters())
      if (remembered !== null) receiver.restoreReceive(remembered)
      sender.disconnect()
      connect()
    } else {
      wire(op.keep)
      acks(op.keep)
      toReceiver = []
      toSender = []
      sender.disconnect()
      connect()
    }
  }
  let dropped = 0
  if (goneAtEnd) {
    consume(queue.length)
    dropped = sender.drop()
  } else {
    // Settle: everything flows until nothing moves.
    for (let i = 0; i < 10_000 && (sender.unacknowledged > 0 || queue.length > 0 || toReceiver.length > 0); i++) {
      flush()
      wire(toReceiver.length)
      consume(queue.length)
      flush()
      acks(toSender.length)
    }
  }
  return { accepted, delivered, dropped, maxInFlight, left: sender.unacknowledged }
}

test('takeInto() takes what take() would, in batches below a byte limit (a larger message alone), and counts resends apart', () => {
  const c = counters()
  const lane = new Lane(1, { messages: 5, bytes: 1000 }, c)
  for (let i = 0; i < 8; i++) lane.accept(msg(i, i === 2 ? 50 : 10))
  const out: Uint8Array[] = []
  expect(lane.takeInto(out, 30)).toBe(0) // not connected
  lane.connect()
  expect(lane.takeInto(out, 30)).toBe(2)
  expect(lane.takeInto(out, 30)).toBe(1) // 50 bytes, alone
  expect(lane.takeInto(out, 30)).toBe(2) // the window of 5 is full
  expect(lane.takeInto(out, 30)).toBe(0)
  expect(out.map(valueOf)).toEqual([0, 1, 2, 3, 4])
  lane.ack(2)
  lane.disconnect()
  lane.connect()
  out.length = 0
  expect(lane.takeInto(out, 1000)).toBe(5) // 3 resends, then 2 new
  expect(out.map(valueOf)).toEqual([2, 3, 4, 5, 6])
  expect(c).toEqual({ sent: 7, resent: 3 })
})

test('property: any interleaving of sends, acks, swaps (also ones only the sender sees), resumes and reconnects delivers every accepted message exactly once, in order, or reports it', () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { maxLength: 80 }),
      fc.record({ messages: fc.integer({ min: 1, max: 16 }), bytes: fc.integer({ min: 4, max: 200 }) }),
      fc.boolean(),
      (ops, limits, goneAtEnd) => {
        const { accepted, delivered, dropped, maxInFlight, left } = run(ops, limits, goneAtEnd)
        // Exactly once, in order: what was delivered is a prefix of what was accepted.
        expect(delivered).toEqual(accepted.slice(0, delivered.length))
        expect(maxInFlight).toBeLessThanOrEqual(limits.messages)
        if (goneAtEnd) {
          // Whatever was not delivered is among what the sender reports as dropped.
          expect(accepted.length - delivered.length).toBeLessThanOrEqual(dropped)
        } else {
          expect(delivered).toEqual(accepted)
          expect(left).toBe(0)
        }
      }
    ),
    { numRuns: 1000 }
  )
})
