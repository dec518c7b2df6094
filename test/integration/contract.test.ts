/**
 * The reactive contract users' pipelines rely on (README, docs/reactive-guide.md): final states on
 * close, per-key state freed, frozen and isolated values, coded programmer errors, values after
 * close, the lifecycle stream, per-peer streams, synchronous snapshots, and maxPeers inbound.
 */
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs'
import b4a from 'b4a'
import { NetworkerError } from '../../lib'
import type { Extension, NetworkerState, ReactiveNetworker, TopicState } from '../../lib'
import { connectedPair, createHarness, Harness, randomTopic, sleep, until, waitFor, waitForPeers } from '../kit'

let h: Harness

beforeEach(async () => {
  h = await createHarness()
})

afterEach(async () => {
  await h.cleanup()
})

/** Test-only: the number of keys the networker keeps state for (topic entries and caller marks). */
function keysKept(networker: ReactiveNetworker): number {
  const inner = networker as unknown as {
    topicRegistry: { records: Map<string, unknown>; watchers: Map<string, unknown> }
    remembered: { callerKeys: Set<string> }
  }
  const { records, watchers } = inner.topicRegistry
  return new Set([...records.keys(), ...watchers.keys(), ...inner.remembered.callerKeys]).size
}

it('close() ends every topic as left: the last topics$ is empty, topic$ ends not joined, joined/flushed/status are cleared', async () => {
  const { a, topic } = await connectedPair(h)
  const topics: Array<ReadonlyMap<string, TopicState>> = []
  const states: TopicState[] = []
  a.topics$.subscribe((m) => topics.push(m))
  a.topic$(topic).subscribe((s) => states.push(s))
  expect(a.joined(topic)).toBe(true)
  await a.close()
  expect(topics.at(-1)?.size).toBe(0)
  expect(states.at(-1)).toMatchObject({ joined: false, flushed: false, announce: false, lookup: false })
  expect([a.joined(topic), a.flushed(topic), a.status(topic), a.allStatuses()]).toEqual([false, false, null, []])
})

it('keeps no state for keys that are left: 1,000 never-joined leaves and a join+leave leave nothing behind', async () => {
  const n = h.networker()
  await n.listen()
  for (let i = 0; i < 1000; i++) await n.configure(randomTopic(), { announce: false, lookup: false })
  expect(keysKept(n)).toBe(0)
  const topic = randomTopic()
  await n.configure(topic, { announce: true, lookup: false })
  expect(keysKept(n)).toBe(1)
  await n.configure(topic, { announce: false, lookup: false })
  await until(() => keysKept(n) === 0, 5_000, 'the left key to be released')
  expect(n.joined(topic)).toBe(false)
  // A key joined again after it was released starts afresh and works.
  await n.configure(topic, { announce: true, lookup: false })
  expect(n.joined(topic)).toBe(true)
})

it('values are frozen or copies: the first peers$ is frozen, listen() emits no second empty map, an emitted map is the caller’s own', async () => {
  const n = h.networker()
  const emitted: Array<ReadonlyMap<string, TopicState>> = []
  n.topics$.subscribe((m) => emitted.push(m))
  expect(Object.isFrozen(await firstValueFrom(n.peers$))).toBe(true)
  await n.listen()
  expect(emitted.length).toBe(1)
  const topic = randomTopic()
  await n.configure(topic, { announce: true, lookup: false })
  const mine = emitted.at(-1) as Map<string, TopicState>
  mine.set('intruder', mine.values().next().value as TopicState)
  await n.configure(randomTopic(), { announce: true, lookup: false })
  expect(emitted.at(-1)?.has('intruder')).toBe(false)
  expect(n.topics.has('intruder')).toBe(false)
  expect([...n.topics.keys()]).toContain(b4a.toString(topic, 'hex'))
})

it('messages$ of something that is not an extension is a coded programmer error', () => {
  const n = h.networker()
  expect(() => n.messages$({} as Extension<unknown>)).toThrow(NetworkerError)
  expect(() => n.messages$(null as unknown as Extension<unknown>)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }))
})

it('a subscriber after close() gets the last value, then completion (peers$, topics$, state$)', async () => {
  const { a } = await connectedPair(h)
  await a.close()
  expect(await lastValueFrom(a.peers$.pipe(toArray()))).toEqual([[]])
  expect((await lastValueFrom(a.topics$.pipe(toArray()))).map((m) => m.size)).toEqual([0])
  expect(await lastValueFrom(a.state$.pipe(toArray()))).toEqual(['closed'])
})

it('state$ goes idle → listening → closing → closed, and replays the current state', async () => {
  const n = h.networker()
  const seen: NetworkerState[] = []
  n.state$.subscribe((s) => seen.push(s))
  await n.listen()
  expect(await firstValueFrom(n.state$)).toBe('listening')
  await n.close()
  expect(seen).toEqual(['idle', 'listening', 'closing', 'closed'])
})

it('peer$(key) emits the peer while connected and completes when it is removed', async () => {
  const { a, b } = await connectedPair(h)
  const bKey = b.publicKey as Buffer
  const emitted: unknown[] = []
  const done = new Promise<void>((resolve) => a.peer$(bKey).subscribe({ next: (p) => emitted.push(p), complete: resolve }))
  expect(emitted).toEqual([a.peers[0]])
  await b.close()
  await done
  expect(a.peers).toEqual([])
  expect(() => a.peer$('nope')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_KEY' }))
})

it('peers and topics are synchronous snapshots of peers$ and topics$', async () => {
  const { a, topic } = await connectedPair(h)
  expect(a.peers).toBe(await firstValueFrom(a.peers$))
  expect([...a.topics.keys()]).toEqual([b4a.toString(topic, 'hex')])
})

it('maxPeers holds for inbound connections too: an announcer with maxPeers 2 never lists more than 2 of 4 dialling peers', async () => {
  const topic = randomTopic()
  const announcer = h.networker(undefined, { maxPeers: 2 })
  let most = 0
  announcer.peers$.subscribe((peers) => (most = Math.max(most, peers.length)))
  await announcer.configure(topic, { announce: true, lookup: false })
  const lookers = [0, 1, 2, 3].map(() => h.networker())
  await Promise.all(lookers.map((l) => l.configure(topic, { announce: false, lookup: true })))
  await waitForPeers(announcer, 2)
  // Let the refused connections come and go (and the lookers' relookups redial).
  await sleep(1500)
  expect(most).toBe(2)
  expect(announcer.peers.length).toBe(2)
  await waitFor(announcer.peers$, (p) => p.length === 2)
})
