import b4a from 'b4a'
import type { ReactiveNetworker } from '../../lib/reactive-networker'
import { createHarness, Harness, plainSwarm, randomTopic, sleep, until, waitFor, noiseOf } from '../kit'

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

test('a connection whose remote never answers (a mute peer, a half-open connection) is dropped within the timeout', async () => {
  const timeout = 1500
  const topic = randomTopic()
  // Completes the Noise handshake, then never reads: our keep-alive channel is neither opened
  // nor rejected, and only its own default keep-alive (every 5 s) ever reaches us.
  const mute = plainSwarm(h, () => {})
  await mute.join(topic, { server: true, client: false }).flushed()

  const networker = h.networker(h.store(), { timeout })
  const events = history(networker, () => mute.keyPair.publicKey)
  await networker.configure(topic, { announce: false, lookup: true })
  await until(() => events.some((e) => e.type === 'add'), 20_000, 'the mute peer to be added')
  const added = events.find((e) => e.type === 'add')?.at ?? 0

  // Before the fix it stayed for good (the time-out was armed only once the channel opened).
  await until(() => events.some((e) => e.type === 'remove'), 20_000, 'the mute peer to be dropped')
  const dropped = (events.find((e) => e.type === 'remove')?.at ?? 0) - added
  // The timeout, the dedupe grace (500 ms) and slack for a loaded machine.
  console.log(JSON.stringify({ scenario: 'mute-peer', timeout, droppedAfterMs: dropped }))
  expect(dropped).toBeLessThan(timeout + 500 + 2000)
  expect(events[0].type).toBe('add')
  expect(events[1].type).toBe('remove')
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
  // The rejection took the time-out back to the default (none).
  expect(noiseOf(peer).timeout).toBe(0)
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
