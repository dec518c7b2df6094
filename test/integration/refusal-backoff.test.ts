import { Subscription } from 'rxjs'
import { REFUSED_WITHIN_MS } from '../../lib/budgets'
import type { ReactiveNetworker } from '../../lib/reactive-networker'
import { connect, createHarness, Harness, randomTopic, sleep, until, waitForPeers } from '../kit'

/**
 * Issue 25's dial back-off, both ways: a dial the remote refused (it was full) is not made again
 * for a minute, while a peer the remote had taken and then lost within `REFUSED_WITHIN_MS` of the
 * connection's opening (a cut, a restart) is dialled again at once. The remote says which it
 * was: it tells a connection it takes as a peer so on the keep-alive channel.
 */

let h: Harness
let subscriptions: Subscription
beforeEach(async () => {
  h = await createHarness()
  subscriptions = new Subscription()
})
afterEach(async () => {
  subscriptions.unsubscribe()
  await h.cleanup()
})

const refusalsOf = (n: ReactiveNetworker): number => (n as unknown as { connections: { refusedOverMaxPeers: number } }).connections.refusedOverMaxPeers

/** Every peer event of `n`, as "add" / "remove" / "swap". */
function eventsOf(n: ReactiveNetworker): string[] {
  const events: string[] = []
  subscriptions.add(n.peerEvents$.subscribe(({ type }) => events.push(type)))
  return events
}

test('a peer the remote took and then lost soon after the connection opened is dialled again at once, not backed off', async () => {
  const topic = randomTopic()
  // Only the reader looks the topic up: only it can dial the connection back.
  const server = h.networker(h.store(), { dedupeGraceTime: 0 })
  const reader = h.networker(h.store(), { dedupeGraceTime: 0 })
  const events = eventsOf(reader)
  await server.configure(topic, { announce: true, lookup: false })
  const opened = Date.now()
  await reader.configure(topic, { announce: false, lookup: true })
  const [peer] = await waitForPeers(server, 1)
  await waitForPeers(reader, 1)
  // Let the reader hear that it was admitted, then cut, well within REFUSED_WITHIN_MS.
  await sleep(200)
  const cutAfter = Date.now() - opened
  expect(cutAfter).toBeLessThan(REFUSED_WITHIN_MS)
  peer.stream.destroy()
  await until(() => events.includes('remove'), 10_000, () => `the reader lost it (${events.join(', ')})`)
  const lost = Date.now()
  await until(() => reader.peers.length === 1 && server.peers.length === 1, 20_000, () => `back together (${events.join(', ')})`)
  console.log(`cut ${cutAfter} ms after the lookup began; back together ${Date.now() - lost} ms after the reader lost it; reader: ${events.join(', ')}`)
})

test('a dial the remote refused (every slot held) is not made again within the back-off, though we took the connection as a peer ourselves', async () => {
  const topic = randomTopic()
  // maxPeers 1: its minimum is 1, and its one peer (which has 1 peer) is never closed to make room.
  const full = h.networker(h.store(), { maxPeers: 1 })
  const first = h.networker(h.store())
  await connect(full, first, topic)
  // No dedupe grace: its record of the refused connection goes at once (within a grace, a
  // redial would be a swap, and the refusal is not counted: see docs/scaling.md).
  const newcomer = h.networker(h.store(), { dedupeGraceTime: 0, relookupBackoff: [100, 200, 400] })
  await newcomer.configure(topic, { announce: false, lookup: true })
  await until(() => refusalsOf(full) >= 1, 20_000, 'the first refusal')
  const refusals = refusalsOf(full)
  // Hyperswarm would dial again within seconds, and the newcomer, with no peer, looks up often.
  await sleep(10_000)
  console.log(`refusals at the full networker: ${refusals} after the first dial, ${refusalsOf(full)} 10 s later; newcomer peers ${newcomer.peers.length}`)
  expect(refusalsOf(full)).toBe(refusals)
  expect(newcomer.peers.length).toBe(0)
  expect(full.peers.length).toBe(1)
}, 60_000)
