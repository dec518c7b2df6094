import fc from 'fast-check'
import c from 'compact-encoding'
import { NetworkerError } from '../../lib/errors'
import type { ExtensionMessage } from '../../lib/extensions'
import { createHarness, Harness, randomTopic, waitFor, waitForPeers } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

test('random interleavings of configure/leave on one key end in the state of the last call, with no unhandled rejection', async () => {
  const calls = fc.array(
    fc.record({ announce: fc.boolean(), lookup: fc.boolean(), flush: fc.boolean() }),
    { minLength: 1, maxLength: 8 }
  )
  const samples = fc.sample(fc.tuple(calls, fc.option(fc.nat({ max: 8 }), { nil: undefined })), { numRuns: 20, seed: 42 })
  for (const [sequence, closeAt] of samples) {
    const networker = h.networker()
    const topic = randomTopic()
    const settled: Array<Promise<unknown>> = []
    let closed = false
    sequence.forEach((config, i) => {
      if (closeAt === i) {
        closed = true
        settled.push(networker.close())
      }
      settled.push(
        networker.configure(topic, config).catch((err: unknown) => {
          // Only a close may interrupt or refuse a configure.
          expect(err).toBeInstanceOf(NetworkerError)
          expect((err as NetworkerError).code).toBe('ERR_CLOSED')
          expect(closed).toBe(true)
        })
      )
    })
    await Promise.all(settled)
    if (!closed) {
      const last = sequence[sequence.length - 1]
      const joined = last.announce || last.lookup
      const state = await waitFor(networker.topic$(topic), () => true)
      expect({ announce: state.announce, lookup: state.lookup, joined: state.joined }).toEqual({
        announce: joined && last.announce,
        lookup: joined && last.lookup,
        joined
      })
      if (joined && last.flush) expect(state.flushed).toBe(true)
      expect(networker.joined(topic)).toBe(joined)
      expect(networker.status(topic) !== null).toBe(joined)
    }
    await networker.close()
  }
})

test('random bytes into every encoding never throw out of the library: each bad message is an ERR_DECODE, good ones still arrive', async () => {
  const topic = randomTopic()
  const sender = h.networker()
  const receiver = h.networker()
  const raw = sender.registerExtension('fuzz-json', { encoding: 'binary' })
  const rawUtf8 = sender.registerExtension('fuzz-utf8', { encoding: 'binary' })
  const rawUint = sender.registerExtension('fuzz-uint', { encoding: 'binary' })
  const rawCodec = sender.registerExtension('fuzz-codec', { encoding: 'binary' })
  const json = receiver.registerExtension<unknown>('fuzz-json', { encoding: 'json' })
  const utf8 = receiver.registerExtension('fuzz-utf8', { encoding: 'utf-8' })
  const uint = receiver.registerExtension<number>('fuzz-uint', { encoding: c.uint })
  const codec = receiver.registerExtension<{ n: number }>('fuzz-codec', {
    encoding: {
      encode: (v: { n: number }) => Buffer.from(JSON.stringify(v)),
      decode: (b: Uint8Array) => {
        const v: unknown = JSON.parse(Buffer.from(b).toString())
        if (typeof v !== 'object' || v === null || typeof (v as { n?: unknown }).n !== 'number') throw new TypeError('not { n }')
        return v as { n: number }
      }
    }
  })
  const errors: NetworkerError[] = []
  receiver.errors$.subscribe((err) => errors.push(err))
  const received: Array<ExtensionMessage<unknown>> = []
  for (const ext of [json, utf8, uint, codec]) receiver.messages$<unknown>(ext).subscribe((m) => received.push(m))

  await receiver.configure(topic, { announce: true, lookup: false })
  await sender.configure(topic, { announce: false, lookup: true })
  const [peer] = await waitForPeers(sender, 1)

  const payloads = fc.sample(fc.uint8Array({ maxLength: 64 }), { numRuns: 300, seed: 7 })
  for (const bytes of payloads) {
    for (const ext of [raw, rawUtf8, rawUint, rawCodec]) ext.send(Buffer.from(bytes), peer)
  }
  // One valid message per extension last: it must still arrive, on the same connection.
  const okJson = waitFor(json.messages$, ({ message }) => JSON.stringify(message) === '{"ok":true}')
  const okCodec = waitFor(codec.messages$, ({ message }) => message.n === 1)
  raw.send(Buffer.from('{"ok":true}'), peer)
  rawCodec.send(Buffer.from('{"n":1}'), peer)
  await Promise.all([okJson, okCodec])

  const total = payloads.length * 4 + 2
  const sentStats = [raw, rawUtf8, rawUint, rawCodec].reduce((n, e) => n + e.stats.sent, 0)
  expect(sentStats).toBe(total)
  await waitFor(receiver.peers$, (p) => p.length === 1)
  // Every message either arrived decoded or became exactly one ERR_DECODE.
  const deadline = Date.now() + 10_000
  while (received.length + errors.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  expect(received.length + errors.length).toBe(total)
  expect(errors.every((e) => e.code === 'ERR_DECODE')).toBe(true)
  expect(errors.length).toBeGreaterThan(0)
  // utf-8 decodes any bytes: every fuzz message on it arrived.
  expect(received.filter((m) => typeof m.message === 'string').length).toBe(payloads.length)
})
