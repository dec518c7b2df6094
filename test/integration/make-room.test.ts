import b4a from 'b4a'
import { Subscription } from 'rxjs'
import { EVICTION_GRACE_MS, PROBATION_WAIT_MS, minPeersFor } from '../../lib/budgets'
import type { ReactiveNetworker } from '../../lib/reactive-networker'
import { createHarness, Harness, randomTopic, sleep, until } from '../kit'
import { rawPeer } from '../kit/raw-peer'

/**
 * Issue 25: a full networker makes room for a newcomer that has fewer than the minimum of peers
 * (peers tell each other their count on the keep-alive channel), by closing the peer that told
 * the most; a connection that tells nothing (an older version, a plain Hyperswarm peer) is
 * refused while every slot is held.
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

const MAX_PEERS = 3

interface Counters {
  evictedPeers: number
  refusedOverMaxPeers: number
}
const countersOf = (n: ReactiveNetworker): Counters => (n as unknown as { connections: Counters }).connections

/** The most peers `n` ever had, sampled on every change of `peers$`. */
function watchMost(n: ReactiveNetworker): () => number {
  let most = 0
  subscriptions.add(n.peers$.subscribe((peers) => (most = Math.max(most, peers.length))))
  return () => most
}

test('a full mesh at maxPeers makes room for a newcomer with no peer: it reaches the minimum, nobody goes above maxPeers, the graph stays whole', async () => {
  const topic = randomTopic()
  const full = Array.from({ length: 4 }, () => h.networker(h.store(), { maxPeers: MAX_PEERS }))
  const most = full.map(watchMost)
  await Promise.all(full.map((n) => n.configure(topic, { announce: true, lookup: true })))
  await until(() => full.every((n) => n.peers.length === MAX_PEERS), 20_000, () => `a full mesh (${full.map((n) => n.peers.length)})`)
  await sleep(EVICTION_GRACE_MS + 200) // peers younger than this are not closed to make room

  const newcomer = h.networker(h.store(), { maxPeers: MAX_PEERS })
  const mostOfNewcomer = watchMost(newcomer)
  await newcomer.configure(topic, { announce: true, lookup: true })
  const minimum = minPeersFor(MAX_PEERS)
  await until(() => newcomer.peers.length >= minimum, 20_000, () => `the newcomer at the minimum (${newcomer.peers.length})`)
  await sleep(1000)
  const evicted = full.reduce((sum, n) => sum + countersOf(n).evictedPeers, 0)
  const all = [...full, newcomer]
  // The graph of connections both ends list is connected.
  const keyOf = (n: ReactiveNetworker): string => b4a.toString(n.publicKey as Buffer, 'hex')
  const lists = new Map(all.map((n) => [keyOf(n), new Set(n.peers.map((p) => b4a.toString(p.remotePublicKey, 'hex')))]))
  const seen = new Set([keyOf(newcomer)])
  const stack = [keyOf(newcomer)]
  while (stack.length > 0) {
    const key = stack.pop() as string
    for (const peer of lists.get(key) ?? []) {
      if (!seen.has(peer) && lists.get(peer)?.has(key)) {
        seen.add(peer)
        stack.push(peer)
      }
    }
  }
  console.log(`make room: newcomer ${newcomer.peers.length} peers, evictions ${evicted}, peers ${all.map((n) => n.peers.length)}`)
  expect(evicted).toBeGreaterThanOrEqual(1)
  expect(seen.size).toBe(all.length)
  expect(Math.max(...most.map((m) => m()), mostOfNewcomer())).toBeLessThanOrEqual(MAX_PEERS)
})

test('while every slot is held, a connection that never tells its peer count is refused after the probation wait; a peer younger than the grace is not closed for anyone', async () => {
  const topic = randomTopic()
  const full = Array.from({ length: 4 }, () => h.networker(h.store(), { maxPeers: MAX_PEERS }))
  await Promise.all(full.map((n) => n.configure(topic, { announce: true, lookup: true })))
  await until(() => full.every((n) => n.peers.length === MAX_PEERS), 20_000, 'a full mesh')
  const target = full[0]
  const before = target.peers.map((p) => b4a.toString(p.remotePublicKey, 'hex')).sort()
  const refusedBefore = countersOf(target).refusedOverMaxPeers
  // A raw peer: it answers the keep-alive channel but tells no peer count (an older version).
  const raw = rawPeer(h, target.publicKey as Buffer, 'none')
  await until(() => countersOf(target).refusedOverMaxPeers > refusedBefore, PROBATION_WAIT_MS + 10_000, 'the refusal')
  await until(() => raw.links.every((l) => l.conn.destroyed), 10_000, 'its connection closed')
  expect(target.peers.map((p) => b4a.toString(p.remotePublicKey, 'hex')).sort()).toEqual(before)
  expect(countersOf(target).evictedPeers).toBe(0)
})
