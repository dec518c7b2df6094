import b4a from 'b4a'
import { Observable, take } from 'rxjs'
import type { ReactiveNetworker, NetworkerPeerEvent } from '../../lib/reactive-networker'
import type { Peer } from '../../lib/peer'
import type { TopicState } from '../../operators/types'
import { connectedPair, createHarness, Harness, randomTopic, sleep, waitFor, waitForPeers } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

/** The value a hot stream with replay hands a new subscriber, read synchronously. */
function current<T>(networker: ReactiveNetworker, pick: (n: ReactiveNetworker) => Observable<T>): T {
  let value: T | undefined
  let got = false
  pick(networker)
    .pipe(take(1))
    .subscribe((v) => {
      value = v
      got = true
    })
  if (!got) throw new Error('the stream did not replay a value synchronously')
  return value as T
}

function peersNow(networker: ReactiveNetworker): readonly Peer[] {
  return current(networker, (n) => n.peers$)
}

function hex(key: Uint8Array | null): string {
  if (key === null) throw new Error('no key')
  return b4a.toString(key, 'hex')
}

function plain(state: TopicState): Omit<TopicState, 'discoveryKey'> & { discoveryKey: string } {
  return { ...state, discoveryKey: hex(state.discoveryKey) }
}

test('configure resolves with the TopicState it produced', async () => {
  const topic = randomTopic()
  const a = h.networker()
  const state = await a.configure(topic, { announce: true, lookup: false })
  expect(plain(state)).toEqual({
    discoveryKey: topic.toString('hex'),
    announce: true,
    lookup: false,
    joined: true,
    flushed: true
  })
  expect(plain(current(a, (n) => n.topic$(topic)))).toEqual(plain(state))

  const refreshed = await a.configure(topic, { announce: false, lookup: true, flush: false })
  expect(refreshed.announce).toBe(false)
  expect(refreshed.lookup).toBe(true)
  expect(refreshed.joined).toBe(true)
})

test('configure defaults to announce, lookup and flush', async () => {
  const topic = randomTopic()
  const a = h.networker()
  const state = await a.configure(topic)
  expect(state.announce).toBe(true)
  expect(state.lookup).toBe(true)
  expect(state.joined).toBe(true)
  // flush defaults to true: the promise resolves only once the topic is flushed.
  expect(state.flushed).toBe(true)
  expect(a.flushed(topic)).toBe(true)
  const status = a.status(topic)
  expect(status?.announce).toBe(true)
  expect(status?.lookup).toBe(true)

  // And both defaults really reach the swarm: a lookup-only peer finds it (announce), and it
  // finds an announce-only peer on a second topic (lookup).
  const lookupOnly = h.networker()
  await lookupOnly.configure(topic, { announce: false, lookup: true })
  const [peer] = await waitForPeers(lookupOnly, 1)
  expect(b4a.equals(peer.remotePublicKey, a.publicKey as Buffer)).toBe(true)

  const second = randomTopic()
  const announcer = h.networker()
  await announcer.configure(second, { announce: true, lookup: false })
  await a.configure(second)
  await waitFor(a.peers$, (peers) => peers.some((p) => b4a.equals(p.remotePublicKey, announcer.publicKey as Buffer)))
})

test('topic$ reaches flushed only after the peers found have connected, once per configure', async () => {
  const topic = randomTopic()
  const announcer = h.networker()
  await announcer.configure(topic, { announce: true, lookup: false })
  const announcerKey = hex(announcer.publicKey)

  const b = h.networker()
  const flushes: Array<{ state: TopicState; peers: string[] }> = []
  const states: TopicState[] = []
  const subscription = b.topic$(topic).subscribe((state) => {
    states.push(state)
    if (state.flushed) flushes.push({ state, peers: peersNow(b).map((p) => hex(p.remotePublicKey)) })
  })
  try {
    const first = await b.configure(topic, { announce: false, lookup: true })
    expect(first.flushed).toBe(true)
    expect(flushes).toHaveLength(1)
    // At the moment topic$ first said flushed, the peer lookup found was already a peer.
    expect(flushes[0].peers).toEqual([announcerKey])

    const second = await b.configure(topic, { announce: true, lookup: true })
    expect(second.flushed).toBe(true)
    await sleep(1000)
    expect(flushes).toHaveLength(2)
    expect(flushes[1].peers).toEqual([announcerKey])
    // Every configure restarts discovery: flushed goes false, then true exactly once.
    expect(states.map((s) => `${s.joined}/${s.flushed}`)).toEqual([
      'false/false',
      'true/false',
      'true/true',
      'true/false',
      'true/true'
    ])
  } finally {
    subscription.unsubscribe()
  }
})

test('topic$ reaches flushed only after the peers found have connected, also when onauthenticate answers later', async () => {
  // onauthenticate is "called for every new connection before it is replicated or announced";
  // a connection still waiting for it has not connected yet, so the topic is not flushed yet.
  const topic = randomTopic()
  const announcer = h.networker()
  await announcer.configure(topic, { announce: true, lookup: false })
  const b = h.networker(h.store(), {
    onauthenticate: (_remotePublicKey, done) => {
      setTimeout(() => done(), 300)
    }
  })
  const atFlush: string[][] = []
  const subscription = b.topic$(topic).subscribe((state) => {
    if (state.flushed) atFlush.push(peersNow(b).map((p) => hex(p.remotePublicKey)))
  })
  try {
    const state = await b.configure(topic, { announce: false, lookup: true })
    expect(state.flushed).toBe(true)
    expect(peersNow(b).map((p) => hex(p.remotePublicKey))).toEqual([hex(announcer.publicKey)])
    expect(atFlush).toEqual([[hex(announcer.publicKey)]])
  } finally {
    subscription.unsubscribe()
  }
})

test('leaving clears joined and flushed and keeps existing connections', async () => {
  const { a, b, topic } = await connectedPair(h)
  const events: NetworkerPeerEvent[] = []
  const sub = b.peerEvents$.subscribe((e) => events.push(e))
  try {
    const left = await b.configure(topic, { announce: false, lookup: false })
    expect(left.joined).toBe(false)
    expect(left.flushed).toBe(false)
    expect(left.announce).toBe(false)
    expect(left.lookup).toBe(false)
    expect(b.joined(topic)).toBe(false)
    expect(b.flushed(topic)).toBe(false)
    expect(current(b, (n) => n.topics$).has(topic.toString('hex'))).toBe(false)
    expect(b.status(topic)).toBeNull()

    await sleep(1500)
    expect(peersNow(b).map((p) => hex(p.remotePublicKey))).toEqual([hex(a.publicKey)])
    expect(peersNow(a).map((p) => hex(p.remotePublicKey))).toEqual([hex(b.publicKey)])
    expect(events.filter((e) => e.type === 'remove')).toEqual([])
  } finally {
    sub.unsubscribe()
  }
})

test('leaving an unknown key resolves at once with a not-joined state', async () => {
  const topic = randomTopic()
  const a = h.networker()
  const state = await a.configure(topic, { announce: false, lookup: false })
  expect(plain(state)).toEqual({
    discoveryKey: topic.toString('hex'),
    announce: false,
    lookup: false,
    joined: false,
    flushed: false
  })
  expect(a.status(topic)).toBeNull()
  expect(a.allStatuses()).toEqual([])
  expect(current(a, (n) => n.topics$).size).toBe(0)
})

test('calls for the same key are applied in call order', async () => {
  const topic = randomTopic()
  const other = h.networker()
  await other.configure(topic, { announce: true, lookup: false })
  const a = h.networker()

  const calls = [
    { announce: true, lookup: false },
    { announce: false, lookup: true },
    { announce: false, lookup: false },
    { announce: true, lookup: true, flush: false },
    { announce: false, lookup: true }
  ]
  const order: number[] = []
  const promises = calls.map((opts, i) =>
    a.configure(topic, opts).then((state) => {
      order.push(i)
      return state
    })
  )
  const results = await Promise.all(promises)
  expect(order).toEqual([0, 1, 2, 3, 4])
  for (const [i, state] of results.entries()) {
    const wanted = calls[i]
    expect({ i, announce: state.announce, lookup: state.lookup, joined: state.joined }).toEqual({
      i,
      announce: wanted.announce,
      lookup: wanted.lookup,
      joined: wanted.announce || wanted.lookup
    })
  }
  // flush (the default) resolves flushed; the leave resolves not flushed.
  expect(results[0].flushed).toBe(true)
  expect(results[1].flushed).toBe(true)
  expect(results[2].flushed).toBe(false)
  expect(results[4].flushed).toBe(true)

  const final = current(a, (n) => n.topic$(topic))
  expect({ announce: final.announce, lookup: final.lookup, joined: final.joined, flushed: final.flushed }).toEqual({
    announce: false,
    lookup: true,
    joined: true,
    flushed: true
  })
  const status = a.status(topic)
  expect(status).not.toBeNull()
  expect({ announce: status?.announce, lookup: status?.lookup, remember: status?.remember }).toEqual({
    announce: false,
    lookup: true,
    remember: false
  })
  expect(status?.discoveryKey.equals(topic)).toBe(true)
  expect(a.allStatuses()).toHaveLength(1)
})

test('status() reports the configuration in force while later calls for the key wait their turn', async () => {
  const topic = randomTopic()
  const other = h.networker()
  await other.configure(topic, { announce: true, lookup: false })
  const a = h.networker()
  const mismatches: string[] = []
  const subscription = a.topic$(topic).subscribe((state) => {
    const status = a.status(topic)
    const inForce = status === null ? 'none' : `announce=${status.announce} lookup=${status.lookup}`
    const shown = state.joined ? `announce=${state.announce} lookup=${state.lookup}` : 'none'
    if (inForce !== shown) mismatches.push(`topic$ ${shown} (flushed=${state.flushed}) but status() ${inForce}`)
  })
  try {
    // The join is applied first (and waits for its flush), the leave after it.
    const join = a.configure(topic, { announce: true, lookup: true })
    const leave = a.configure(topic, { announce: false, lookup: false })
    await Promise.all([join, leave])
  } finally {
    subscription.unsubscribe()
  }
  expect(a.status(topic)).toBeNull()
  expect(mismatches).toEqual([])
})

test('joined() and flushed() read the same state as topic$', async () => {
  const topic = randomTopic()
  const peer = h.networker()
  await peer.configure(topic, { announce: true, lookup: false })
  const a = h.networker()
  expect(a.joined(topic)).toBe(false)
  expect(a.flushed(topic)).toBe(false)
  expect(a.joined(topic.toString('hex'))).toBe(false)

  const mismatches: string[] = []
  let seen = 0
  const sub = a.topic$(topic).subscribe((state) => {
    seen++
    if (a.joined(topic) !== state.joined) mismatches.push(`joined ${a.joined(topic)} vs ${state.joined}`)
    if (a.flushed(topic) !== state.flushed) mismatches.push(`flushed ${a.flushed(topic)} vs ${state.flushed}`)
    const viaHex = topic.toString('hex')
    if (a.joined(viaHex) !== state.joined) mismatches.push('joined(hex) differs')
  })
  try {
    await a.configure(topic, { announce: false, lookup: true })
    expect(a.joined(topic)).toBe(true)
    expect(a.flushed(topic)).toBe(true)
    await a.configure(topic, { announce: true, lookup: true, flush: false })
    expect(a.joined(topic)).toBe(true)
    await waitFor(a.topic$(topic), (s) => s.flushed)
    expect(a.flushed(topic)).toBe(true)
    await a.configure(topic, { announce: false, lookup: false })
    expect(a.joined(topic)).toBe(false)
    expect(a.flushed(topic)).toBe(false)
  } finally {
    sub.unsubscribe()
  }
  expect(seen).toBeGreaterThanOrEqual(6)
  expect(mismatches).toEqual([])
})

test('status() and allStatuses() report the configurations in force', async () => {
  const t1 = randomTopic()
  const t2 = randomTopic()
  const a = h.networker()
  expect(a.status(t1)).toBeNull()
  expect(a.allStatuses()).toEqual([])

  await a.configure(t1, { announce: true, lookup: false })
  await a.configure(t2, { announce: false, lookup: true })
  const s1 = a.status(t1)
  const s2 = a.status(t2.toString('hex'))
  expect(s1?.discoveryKey.equals(t1)).toBe(true)
  expect({ announce: s1?.announce, lookup: s1?.lookup, remember: s1?.remember }).toEqual({
    announce: true,
    lookup: false,
    remember: false
  })
  expect({ announce: s2?.announce, lookup: s2?.lookup, remember: s2?.remember }).toEqual({
    announce: false,
    lookup: true,
    remember: false
  })
  const all = a.allStatuses()
  expect(all.map((s) => b4a.toString(s.discoveryKey, 'hex')).sort()).toEqual(
    [t1.toString('hex'), t2.toString('hex')].sort()
  )

  await a.configure(t1, { announce: true, lookup: true })
  expect(a.status(t1)?.lookup).toBe(true)
  await a.configure(t1, { announce: false, lookup: false })
  expect(a.status(t1)).toBeNull()
  expect(a.allStatuses().map((s) => b4a.toString(s.discoveryKey, 'hex'))).toEqual([t2.toString('hex')])
})

test('topics$ hands a late subscriber the current map', async () => {
  const t1 = randomTopic()
  const t2 = randomTopic()
  const t3 = randomTopic()
  const a = h.networker()
  await a.configure(t1, { announce: true, lookup: false })
  await a.configure(t2, { announce: false, lookup: true })
  await a.configure(t3, { announce: true, lookup: true })
  await a.configure(t3, { announce: false, lookup: false })

  const map = current(a, (n) => n.topics$)
  expect([...map.keys()].sort()).toEqual([t1.toString('hex'), t2.toString('hex')].sort())
  const s1 = map.get(t1.toString('hex')) as TopicState
  expect(plain(s1)).toEqual({ discoveryKey: t1.toString('hex'), announce: true, lookup: false, joined: true, flushed: true })
  const s2 = map.get(t2.toString('hex')) as TopicState
  expect(plain(s2)).toEqual({ discoveryKey: t2.toString('hex'), announce: false, lookup: true, joined: true, flushed: true })
})

test('lookup-only peers never connect to each other', async () => {
  const topic = randomTopic()
  const announcer = h.networker()
  await announcer.configure(topic, { announce: true, lookup: false })
  const l1 = h.networker()
  const l2 = h.networker()
  await l1.configure(topic, { announce: false, lookup: true })
  await l2.configure(topic, { announce: false, lookup: true })

  await waitForPeers(announcer, 2)
  await waitForPeers(l1, 1)
  await waitForPeers(l2, 1)
  // Give any stray connection time to show up.
  await sleep(2000)
  expect(peersNow(announcer).map((p) => hex(p.remotePublicKey)).sort()).toEqual(
    [hex(l1.publicKey), hex(l2.publicKey)].sort()
  )
  expect(peersNow(l1).map((p) => hex(p.remotePublicKey))).toEqual([hex(announcer.publicKey)])
  expect(peersNow(l2).map((p) => hex(p.remotePublicKey))).toEqual([hex(announcer.publicKey)])
})

test('peerEvents$ reports adds in arrival order and a remove when a peer closes', async () => {
  const topic = randomTopic()
  const announcer = h.networker()
  const events: Array<{ type: string; key: string }> = []
  const sub = announcer.peerEvents$.subscribe((e) => events.push({ type: e.type, key: hex(e.peer.remotePublicKey) }))
  try {
    await announcer.configure(topic, { announce: true, lookup: false })
    const l1 = h.networker()
    const l2 = h.networker()
    await l1.configure(topic, { announce: false, lookup: true })
    await waitForPeers(announcer, 1)
    await l2.configure(topic, { announce: false, lookup: true })
    await waitForPeers(announcer, 2)

    const k1 = hex(l1.publicKey)
    const k2 = hex(l2.publicKey)
    expect(events.filter((e) => e.type !== 'swap')).toEqual([
      { type: 'add', key: k1 },
      { type: 'add', key: k2 }
    ])

    await l1.close()
    await waitForPeers(announcer, 1)
    expect(events.filter((e) => e.type !== 'swap')).toEqual([
      { type: 'add', key: k1 },
      { type: 'add', key: k2 },
      { type: 'remove', key: k1 }
    ])
    expect(peersNow(announcer).map((p) => hex(p.remotePublicKey))).toEqual([k2])
  } finally {
    sub.unsubscribe()
  }
})

test('simultaneous joiners meet within seconds thanks to the relookup backoff', async () => {
  for (let round = 0; round < 3; round++) {
    const topic = randomTopic()
    const a = h.networker(h.store(), { relookupBackoff: [200, 400, 800] })
    const b = h.networker(h.store(), { relookupBackoff: [200, 400, 800] })
    await Promise.all([a.configure(topic), b.configure(topic)])
    const [pa, pb] = await Promise.all([waitForPeers(a, 1, 15_000), waitForPeers(b, 1, 15_000)])
    expect(b4a.equals(pa[0].remotePublicKey, b.publicKey as Buffer)).toBe(true)
    expect(b4a.equals(pb[0].remotePublicKey, a.publicKey as Buffer)).toBe(true)
    await Promise.all([a.close(), b.close()])
  }
})
