import fc from 'fast-check'
import c from 'compact-encoding'
import { BatchReader, batchEncoding } from '../../lib/extensions/wire'

/**
 * The `BATCH` wire message is pure bytes: encoded the way Protomux encodes a message (preencode,
 * then encode into a buffer of that size), read back by `BatchReader`, with no sockets.
 */

function encode(messages: readonly Uint8Array[]): Uint8Array {
  const state = c.state()
  batchEncoding.preencode(state, messages)
  state.buffer = Buffer.alloc(state.end)
  batchEncoding.encode(state, messages)
  expect(state.start).toBe(state.end)
  return state.buffer
}

/** The messages as hex strings (cheap to compare, readable when they differ). */
function hex(messages: readonly Uint8Array[]): string[] {
  return messages.map((m) => Buffer.from(m.buffer, m.byteOffset, m.byteLength).toString('hex'))
}

function readAll(bytes: Uint8Array): { messages: Uint8Array[]; malformed: boolean } {
  const reader = new BatchReader(bytes)
  const messages: Uint8Array[] = []
  for (let m = reader.next(); m !== null; m = reader.next()) messages.push(m)
  return { messages, malformed: reader.malformed }
}

/** Message sizes around every length-prefix boundary (1, 3 and 5 bytes). */
const sizeArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(0xfc, 0xfd, 0xfe, 0xffff, 0x10000),
  fc.integer({ min: 0x10000, max: 0x10100 })
)
const messagesArb = fc.array(
  sizeArb.chain((size) => fc.integer({ min: 0, max: 255 }).map((fill) => new Uint8Array(size).fill(fill))),
  { maxLength: 8 }
)

test('property: a batch reads back as the same messages, in order, as views of its bytes', () => {
  fc.assert(
    fc.property(messagesArb, (messages) => {
      const bytes = encode(messages)
      const { messages: back, malformed } = readAll(bytes)
      expect(malformed).toBe(false)
      expect(hex(back)).toEqual(hex(messages))
      for (const m of back) expect(m.buffer).toBe(bytes.buffer) // no copy
    }),
    { numRuns: 200 }
  )
})

test('property: a truncated batch yields a prefix of its messages and says it is malformed', () => {
  fc.assert(
    fc.property(
      messagesArb.filter((messages) => messages.length > 0),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      (messages, cut) => {
        const bytes = encode(messages)
        const truncated = bytes.subarray(0, Math.floor(cut * bytes.byteLength))
        const { messages: back, malformed } = readAll(truncated)
        // The cut may fall exactly between two messages: then the prefix is whole.
        const boundary = encode(messages.slice(0, back.length)).byteLength === truncated.byteLength
        expect(malformed).toBe(!boundary)
        expect(hex(back)).toEqual(hex(messages.slice(0, back.length)))
      }
    ),
    { numRuns: 200 }
  )
})

test('a single Uint8Array passes through the batch encoding untouched (the receiving side)', () => {
  const state = c.state()
  const bytes = Buffer.from([1, 2, 3])
  batchEncoding.preencode(state, bytes)
  state.buffer = Buffer.alloc(state.end)
  batchEncoding.encode(state, bytes)
  expect(Buffer.from(state.buffer)).toEqual(bytes)
  const decoded = batchEncoding.decode(c.state(0, 3, state.buffer))
  expect(Buffer.from(decoded as Uint8Array)).toEqual(bytes)
  // An 8-byte length is never written; reading one is a malformed batch, not a crash.
  expect(readAll(Buffer.from([0xff, 1, 0, 0, 0, 0, 0, 0, 0, 9]))).toEqual({ messages: [], malformed: true })
})
