import b4a from 'b4a'
import type { ReactiveNetworker } from '../../lib/reactive-networker'
import { HANDSHAKE_BUDGET_FACTOR } from '../../lib/budgets'
import { createHarness, Harness, plainSwarm, randomTopic, sleep, until, waitFor } from '../kit'

/**
 * The `timeout` option on connections whose remote is not a well-behaved networker: the keep-alive
 * channel and the idle time-out belong to every connection from its first moment.
 */

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

/** Every add/remove/swap of one remote key, with the time it happened. */
function history(networker: ReactiveNetworker, remote: () => Buffer | undefined): Array<{ type: string; at: number }> {
  const events: Array<{ type: string; at: number }> = []
  networker.peerEvents$.subscribe(({ type, peer }) => {
    const key = remote()
    if (key !== undefined && b4a.equals(peer.remotePublicKey, key)) events.push({ type, at: Date.now() })
  })
  return events
}

test('a connection whose remote never answers (a mute peer, a half-open connection) is never a peer and is dropped within the handshake budget', async () => {
  const timeout = 1500
  const topic = randomTopic()
  // Completes the Noise handshake, then never reads: our keep-alive channel is neither opened
  // nor rejected, and only its own default keep-alive (every 5 s) ever reaches us.
  const mute = plainSwarm(h, () => {})
  await mute.join(topic, { server: true, client: false }).flushed()

  const networker = h.networker(h.store(), { timeout })
  const events = history(networker, () => mute.keyPair.publicKey)
  const raw: Array<{ type: string; at: number }> = []
  networker.connections$.subscribe(({ type, connection }) => {
    if (b4a.equals(connection.remotePublicKey, mute.keyPair.publicKey)) raw.push({ type, at: Date.now() })
  })
  await networker.configure(topic, { announce: false, lookup: true })
  await until(() => raw.some((e) => e.type === 'open'), 20_000, 'a connection to the mute peer')
  await until(() => raw.some((e) => e.type === 'close'), 20_000, 'the mute connection to be dropped')
  const lived = (raw.find((e) => e.type === 'close')?.at ?? 0) - (raw.find((e) => e.type === 'open')?.at ?? 0)
  console.log(JSON.stringify({ scenario: 'mute-peer', timeout, droppedAfterMs: lived }))
  // The handshake budget (2 × timeout), one watchdog tick, and slack for a loaded machine.
  expect(lived).toBeLessThan(HANDSHAKE_BUDGET_FACTOR * timeout + 2000)
  expect(lived).toBeGreaterThanOrEqual(timeout)
  // Nothing ever crossed back: it was never announced on peerEvents$ or peers$.
  expect(events).toEqual([])
  expect(networker.peers).toEqual([])
})

test('a live peer is not cut while this process is stalled for longer than the timeout', async () => {
  const timeout = 1000
  const topic = randomTopic()
  const a = h.networker(h.store(), { timeout })
  const b = h.networker(h.store(), { timeout })
  await a.configure(topic, { announce: true, lookup: false })
  await b.configure(topic, { announce: false, lookup: true })
  await Promise.all([waitFor(a.peers$, (p) => p.length === 1), waitFor(b.peers$, (p) => p.length === 1)])
  const bEvents = history(a, () => b.publicKey ?? undefined)
  // Block a's event loop for three timeouts: b keeps alive all along, but nothing is read
  // meanwhile. Before the watchdog, the stream's own timer fired first thing after the stall.
  const until3 = Date.now() + 3 * timeout
  while (Date.now() < until3) {
    // busy: the whole process is stalled
  }
  await sleep(timeout * 2)
  expect(bEvents.map((e) => e.type)).toEqual([])
  expect(a.peers).toHaveLength(1)
  // (A killed peer is still dropped within the timeout: lifecycle.test.ts and killed-peer.test.ts.)
})

test('a plain Hyperswarm peer that replicates rejects the keep-alive channel and keeps its default keep-alive: it is not cut while idle', async () => {
  const timeout = 1000
  const plainStore = h.store()
  const core = plainStore.get({ name: 'plain' })
  await core.append([Buffer.from('from a plain peer')])
  const plain = plainSwarm(h, (conn) => plainStore.replicate(conn))
  await plain.join(core.discoveryKey as Buffer, { server: true, client: false }).flushed()

  const store = h.store()
  const networker = h.networker(store, { timeout })
  const events = history(networker, () => plain.keyPair.publicKey)
  const clone = store.get({ key: core.key as Buffer })
  await clone.ready()
  await networker.configure(clone.discoveryKey as Buffer, { announce: false, lookup: true })
  const [peer] = await waitFor(networker.peers$, (peers) => peers.length === 1)
  expect((await clone.get(0, { timeout: 10_000 }))?.toString()).toBe('from a plain peer')

  // Idle for three timeouts: the plain peer keeps alive every 5 s, so an armed time-out would cut it.
  await sleep(timeout * 3)
  expect(events.map((e) => e.type)).toEqual(['add'])
  expect(peer.stream.destroyed).toBe(false)
})

test('a remote that holds the connection in onauthenticate for longer than the timeout is not cut meanwhile', async () => {
  const timeout = 1000
  const topic = randomTopic()
  const holding = 3 * timeout
  const admitted: number[] = []
  const a = h.networker(h.store(), { timeout })
  const b = h.networker(h.store(), {
    timeout,
    onauthenticate: (_key, done) => {
      setTimeout(() => {
        admitted.push(Date.now())
        done()
      }, holding)
    }
  })
  const aEvents = history(a, () => b.publicKey ?? undefined)
  const bEvents = history(b, () => a.publicKey ?? undefined)
  await a.configure(topic, { announce: true, lookup: false })
  await b.configure(topic, { announce: false, lookup: true })
  await until(() => admitted.length > 0 && bEvents.length > 0, 20_000, 'b to admit a')
  await sleep(timeout)

  // The keep-alive channel answered while b was still deciding: nobody timed out.
  expect(aEvents.map((e) => e.type)).toEqual(['add'])
  expect(bEvents.map((e) => e.type)).toEqual(['add'])
  expect(admitted).toHaveLength(1)
  expect(bEvents[0].at - aEvents[0].at).toBeGreaterThanOrEqual(holding - 500)
})
