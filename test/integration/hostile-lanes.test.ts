import { Subscription } from 'rxjs'
import { DEFAULT_WINDOW } from '../../lib/extensions'
import { MSG_ACK, MSG_BATCH, MSG_DATA, MSG_RESUME, encodeAck, encodeResume } from '../../lib/extensions/wire'
import type { NetworkerError } from '../../lib/errors'

import type { ReactiveNetworker } from '../../lib/reactive-networker'
import { connect, createHarness, firewalledOptions, Harness, randomTopic, recordErrors, sleep, until, waitForPeers } from '../kit'
import { rawPeer } from '../kit/raw-peer'

/**
 * Issue 22: what a stranger on the DHT can do with an extension channel. Each test reproduces a
 * case measured as an attacker would, with a raw Protomux peer (or a second networker) against a
 * real networker on the loopback testnet, and holds the fix.
 */

let h: Harness
let subscriptions: Subscription
/** Unhandled rejections seen while a test ran (Node 20 ends the process on one outside jest). */
let rejections: unknown[]
const onRejection = (reason: unknown): void => {
  rejections.push(reason)
}
beforeEach(async () => {
  h = await createHarness()
  subscriptions = new Subscription()
  rejections = []
  process.on('unhandledRejection', onRejection)
})
afterEach(async () => {
  process.removeListener('unhandledRejection', onRejection)
  subscriptions.unsubscribe()
  await h.cleanup()
})

const errorsOf = (networker: ReactiveNetworker): NetworkerError[] => recordErrors(networker, subscriptions)

function numbered(i: number, size = 64): Buffer {
  const buf = Buffer.alloc(size, 0xee)
  buf.writeUInt32LE(i, 0)
  return buf
}

/** A victim networker with a binary extension, listening, and a raw peer dialling it. */
async function victimWith(name: string, opts = {}) {
  const victim = h.networker(h.store(), opts)
  const ext = victim.registerExtension(name, { encoding: 'binary' })
  const errs = errorsOf(victim)
  const got: Buffer[] = []
  subscriptions.add(ext.messages$.subscribe(({ message }) => got.push(message)))
  await victim.listen()
  return { victim, ext, errs, got }
}

test('case 1: a RESUME at 2^53 − 1 and one DATA do not end the process: ERR_PROTOCOL, the connection is closed, no unhandled rejection, honest peers unharmed', async () => {
  const { victim, ext, errs, got } = await victimWith('chat')
  const raw = rawPeer(h, victim.publicKey as Buffer, 'chat', (link) => {
    link.send(MSG_RESUME, encodeResume(2 ** 53 - 1, 7))
    link.send(MSG_DATA, Buffer.from('one'))
    link.send(MSG_DATA, Buffer.from('two'))
  })
  await until(() => errs.some((e) => e.code === 'ERR_PROTOCOL'), 20_000, 'ERR_PROTOCOL')
  await until(() => raw.links.length > 0 && raw.links[0].conn.destroyed, 20_000, 'the hostile connection closed')
  await sleep(200)
  expect(rejections).toEqual([])
  expect(got).toEqual([])
  const protocol = errs.find((e) => e.code === 'ERR_PROTOCOL') as NetworkerError
  expect(protocol.remoteKey).toBe((raw.links[0].conn.publicKey as Buffer).toString('hex'))

  // A RESUME just above the lane's limit (2^52 + 1), and 2^64 − 1, are refused the same way.
  for (const seq of [2 ** 52 + 1, 2 ** 53]) {
    const before = errs.filter((e) => e.code === 'ERR_PROTOCOL').length
    const again = rawPeer(h, victim.publicKey as Buffer, 'chat', (link) => link.send(MSG_RESUME, encodeResume(seq, 9)))
    await until(() => errs.filter((e) => e.code === 'ERR_PROTOCOL').length > before, 20_000, `ERR_PROTOCOL for ${seq}`)
    await until(() => again.links[0]?.conn.destroyed === true, 20_000, 'closed')
  }
  // And the largest one accepted still works: 2^52, then a message.
  const edge = rawPeer(h, victim.publicKey as Buffer, 'chat', (link) => {
    link.send(MSG_RESUME, encodeResume(2 ** 52, 11))
    link.send(MSG_DATA, Buffer.from('at the edge'))
  })
  await until(() => got.length === 1, 20_000, 'the message at 2^52')
  expect(got[0].toString()).toBe('at the edge')
  await until(() => edge.links[0].received.acks.includes(2 ** 52 + 1), 20_000, 'its acknowledgement')
  expect(edge.links[0].conn.destroyed).toBe(false)
  expect(rejections).toEqual([])
  expect(ext.stats.received).toBe(1)
})

test('case 2: one BATCH of a million zero-length messages: at most one window is taken in, the heap stays within the budget, ERR_PROTOCOL and the connection is closed', async () => {
  const { victim, ext, errs } = await victimWith('flood')
  const baseline = process.memoryUsage().heapUsed
  let peak = baseline
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed)
  }, 5)
  subscriptions.add(() => clearInterval(sampler))
  const raw = rawPeer(h, victim.publicKey as Buffer, 'flood', (link) => {
    link.send(MSG_RESUME, encodeResume(0, 3))
    link.send(MSG_BATCH, Buffer.alloc(1_000_000)) // each zero byte is a message of length 0
  })
  await until(() => errs.some((e) => e.code === 'ERR_PROTOCOL'), 30_000, 'ERR_PROTOCOL')
  await until(() => raw.links[0].conn.destroyed, 20_000, 'the connection closed')
  await sleep(500)
  clearInterval(sampler)
  const growth = (peak - baseline) / 2 ** 20
  console.log(`hostile batch: received ${ext.stats.received}, peak heap growth ${growth.toFixed(1)} MiB`)
  expect(ext.stats.received).toBeLessThanOrEqual(DEFAULT_WINDOW.messages)
  expect(growth).toBeLessThan(48)
  expect(rejections).toEqual([])
}, 60_000)

test('case 2b: DATA beyond the window (one frame, no acknowledgement possible in between) is a protocol violation; within the window it is delivered', async () => {
  const { victim, ext, errs } = await victimWith('pace')
  const raw = rawPeer(h, victim.publicKey as Buffer, 'pace', (link) => {
    // One corked frame: read in one go, so no acknowledgement can have moved the window meanwhile.
    link.mux.cork()
    link.send(MSG_RESUME, encodeResume(0, 5))
    for (let i = 0; i < DEFAULT_WINDOW.messages + 10; i++) link.send(MSG_DATA, numbered(i, 8))
    link.mux.uncork()
  })
  await until(() => errs.some((e) => e.code === 'ERR_PROTOCOL'), 20_000, 'ERR_PROTOCOL')
  await until(() => raw.links[0].conn.destroyed, 20_000, 'closed')
  expect(ext.stats.received).toBe(DEFAULT_WINDOW.messages)
  // An ACK for messages never sent is a violation too.
  const liar = rawPeer(h, victim.publicKey as Buffer, 'pace', (link) => {
    link.send(MSG_RESUME, encodeResume(0, 6))
    link.send(MSG_ACK, encodeAck(1000))
  })
  await until(() => errs.filter((e) => e.code === 'ERR_PROTOCOL').length >= 2, 20_000, 'a second ERR_PROTOCOL')
  await until(() => liar.links[0].conn.destroyed, 20_000, 'closed')
  expect(rejections).toEqual([])
})

test('case 4: a peer that never reads does not stall a broadcaster honouring drained(): the honest peer gets everything, the non-reader is reported as stalled and its queue is bounded', async () => {
  const sender = h.networker(h.store())
  const ext = sender.registerExtension('news', { encoding: 'binary' })
  const errs = errorsOf(sender)
  const reader = h.networker(h.store())
  const readerExt = reader.registerExtension('news', { encoding: 'binary' })
  let got = 0
  subscriptions.add(readerExt.messages$.subscribe(() => got++))
  await connect(sender, reader)
  const raw = rawPeer(h, sender.publicKey as Buffer, 'news')
  await waitForPeers(sender, 2)
  await until(() => raw.links.length > 0, 20_000, 'the raw link')

  const total = 20_000
  const started = Date.now()
  for (let i = 0; i < total; i++) {
    if (!ext.broadcast(numbered(i))) await ext.drained()
  }
  await until(() => got === total, 60_000, () => `the honest reader got ${got} of ${total}`)
  const ms = Date.now() - started
  console.log(`broadcast beside a non-reader: ${total} messages to the honest peer in ${ms} ms; the non-reader got ${raw.links[0].received.data}`)
  const stalled = errs.filter((e) => e.code === 'ERR_PEER_STALLED')
  expect(stalled.length).toBe(1)
  expect(stalled[0].remoteKey).toBe((raw.links[0].conn.publicKey as Buffer).toString('hex'))
  // The non-reader got one window and acknowledged nothing.
  expect(raw.links[0].received.data).toBeLessThanOrEqual(DEFAULT_WINDOW.messages)
  // Once it leaves, every message it did not take is accounted for: at most two windows were
  // ever held for it, the rest was refused while it was stalled, all reported.
  await raw.swarm.destroy()
  await waitForPeers(sender, 1)
  await until(() => ext.stats.dropped === total, 20_000, () => `dropped ${ext.stats.dropped}`)
  const undelivered = errs.filter((e) => e.code === 'ERR_UNDELIVERED')
  const counts = undelivered.map((e) => Number(/: (\d+) message/.exec(e.message)?.[1]))
  expect(counts.reduce((a, b) => a + b, 0)).toBe(total)
  expect(Math.max(...counts)).toBeGreaterThanOrEqual(total - 2 * DEFAULT_WINDOW.messages)
  expect(rejections).toEqual([])
}, 120_000)

test('case 5: a swap that only the sender sees (the receiver removed and re-added the peer) delivers nothing twice', async () => {
  const topic = randomTopic()
  // The receiver gives a closed connection no grace, the sender 8 s: only the sender sees a swap.
  const receiver = h.networker(h.store(), { ...firewalledOptions(h), dedupeGraceTime: 0, relookupBackoff: [100, 200, 400] })
  const sender = h.networker(h.store(), { ...firewalledOptions(h), dedupeGraceTime: 8000, relookupBackoff: [100, 200, 400] })
  const rx = receiver.registerExtension('seq', { encoding: 'binary' })
  const tx = sender.registerExtension('seq', { encoding: 'binary' })
  const got: number[] = []
  subscriptions.add(
    rx.messages$.subscribe(({ message }) => {
      got.push(message.readUInt32LE(0))
      const until = performance.now() + 0.2 // a slow consumer: the sender's window stays full
      while (performance.now() < until);
    })
  )
  const rxErrs = errorsOf(receiver)
  const events: string[] = []
  subscriptions.add(receiver.peerEvents$.subscribe(({ type }) => events.push(`receiver ${type}`)))
  subscriptions.add(sender.peerEvents$.subscribe(({ type }) => events.push(`sender ${type}`)))
  await Promise.all([receiver.configure(topic, { announce: true, lookup: true }), sender.configure(topic, { announce: true, lookup: true })])
  const [peer] = await waitForPeers(sender, 1)
  await waitForPeers(receiver, 1)
  const total = 12_000
  for (let i = 0; i < total; i++) tx.send(numbered(i), peer)
  await until(() => got.length > 2000, 20_000, 'the first messages')
  peer.stream.destroy() // cut mid-stream, with a window unacknowledged
  await until(() => events.includes('receiver remove') && events.filter((e) => e === 'receiver add').length === 2, 20_000, () => events.join(', '))
  await until(() => new Set(got).size === total, 60_000, () => `${new Set(got).size} of ${total}`)
  await sleep(500)
  const duplicates = got.length - new Set(got).size
  let outOfOrder = 0
  for (let i = 1; i < got.length; i++) if (got[i] <= got[i - 1]) outOfOrder++
  console.log(`asymmetric swap: ${events.join(', ')}; received ${got.length}, duplicates ${duplicates}, out of order ${outOfOrder}`)
  expect(events.filter((e) => e.startsWith('sender'))).toEqual(['sender add', 'sender swap'])
  expect(duplicates).toBe(0)
  expect(outOfOrder).toBe(0)
  expect(rxErrs.filter((e) => e.code !== 'ERR_UNDELIVERED')).toEqual([])
}, 120_000)

test.each([0, 100, 300])('case 6: sends from an add handler reach a remote whose onauthenticate answers after %i ms', async (delay) => {
  const a = h.networker(h.store())
  const b = h.networker(h.store(), { onauthenticate: (_key, done) => setTimeout(() => done(), delay) })
  const extA = a.registerExtension('welcome', { encoding: 'binary' })
  const extB = b.registerExtension('welcome', { encoding: 'binary' })
  const errsA = errorsOf(a)
  const got: number[] = []
  subscriptions.add(extB.messages$.subscribe(({ message }) => got.push(message.readUInt32LE(0))))
  subscriptions.add(
    a.peerEvents$.subscribe(({ type, peer }) => {
      if (type !== 'add') return
      for (let i = 0; i < 100; i++) extA.send(numbered(i), peer)
    })
  )
  await connect(a, b)
  await until(() => got.length === 100 || extA.stats.dropped > 0, 20_000, () => `got ${got.length}, dropped ${extA.stats.dropped}`)
  await sleep(200)
  expect({ got: got.length, dropped: extA.stats.dropped, errors: errsA.map((e) => e.code) }).toEqual({ got: 100, dropped: 0, errors: [] })
  expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i))
})

