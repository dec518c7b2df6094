/**
 * metrics$, metrics() and progress$ on real parts: two networkers on the loopback testnet, real
 * Corestores in temp dirs, a core of known size replicated between them.
 */
import b4a from 'b4a'
import { EventEmitter } from 'events'
import type Corestore from 'corestore'
import { Observable, Subscription, asyncScheduler } from 'rxjs'
import { ErrorCodes, NetworkerError } from '../../lib/errors'
import type { CoreProgress, NetworkerMetrics } from '../../lib/metrics'
import type { ReactiveNetworker } from '../../lib/reactive-networker'
import { connect, createHarness, Harness, noiseOf, randomTopic, sleep, until, waitFor, waitForPeers } from '../kit'
import { RecordingScheduler } from '../operators/support'
import Hyperswarm from 'hyperswarm'
import type HyperDHT from 'hyperdht'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import Protomux from 'protomux'
import c from 'compact-encoding'
import { PROGRESS_SYNC_WAIT_MS } from '../../lib/budgets'
import { KEEPALIVE_PROTOCOL } from '../../lib/keepalive'

let h: Harness
let subscriptions: Subscription
beforeEach(async () => {
  subscriptions = new Subscription()
  h = await createHarness()
})
afterEach(async () => {
  subscriptions.unsubscribe()
  await h.cleanup()
})

/** A store with one core of `blocks` blocks of `size` bytes (block i filled with i). */
async function seeded(blocks: number, size: number): Promise<{ store: Corestore; core: Corestore.Hypercore }> {
  const store = h.store()
  const core = store.get({ name: 'data' })
  await core.ready()
  const data: Buffer[] = []
  for (let i = 0; i < blocks; i++) data.push(Buffer.alloc(size, i % 256))
  await core.append(data)
  return { store, core }
}

/** Every value of `source` into an array (until the test ends). */
function record<T>(source: Observable<T>): { values: T[]; completed: () => boolean } {
  const values: T[] = []
  let done = false
  subscriptions.add(source.subscribe({ next: (v) => values.push(v), complete: () => (done = true) }))
  return { values, completed: () => done }
}

function hex(key: Uint8Array | null | undefined): string {
  if (!key) throw new Error('no key')
  return b4a.toString(key, 'hex')
}

/** Every rate of a sample, to check none is negative. */
function allRates(sample: NetworkerMetrics): number[] {
  const rates: number[] = []
  for (const peer of Object.values(sample.peers)) {
    rates.push(peer.bytesInPerSecond, peer.bytesOutPerSecond, peer.replication.bytesDownPerSecond, peer.replication.bytesUpPerSecond)
  }
  for (const core of Object.values(sample.cores)) {
    rates.push(core.blocksDownPerSecond, core.blocksUpPerSecond, core.bytesDownPerSecond, core.bytesUpPerSecond)
  }
  return rates
}

describe('bad input', () => {
  it('metrics$ refuses an interval under 100 ms, not finite or not a number with ERR_INVALID_OPTION', () => {
    const n = h.networker()
    for (const interval of [99, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1000' as unknown as number]) {
      let thrown: unknown = null
      try {
        n.metrics$({ interval })
      } catch (err) {
        thrown = err
      }
      expect(thrown).toBeInstanceOf(NetworkerError)
      expect((thrown as NetworkerError).code).toBe(ErrorCodes.ERR_INVALID_OPTION)
    }
    expect(() => n.metrics$(null as unknown as { interval: number })).toThrow(expect.objectContaining({ code: ErrorCodes.ERR_INVALID_OPTION }))
    expect(() => n.metrics$({ interval: 100 })).not.toThrow()
    expect(() => n.metrics$()).not.toThrow()
  })

  it('progress$ refuses what is not a Hypercore session with ERR_INVALID_OPTION', () => {
    const n = h.networker()
    for (const value of [null, undefined, 'core', 42, {}, { length: 1, contiguousLength: 1, peers: [] }]) {
      expect(() => n.progress$(value as never)).toThrow(expect.objectContaining({ code: ErrorCodes.ERR_INVALID_OPTION }))
    }
  })
})

test('over a download of known size: blocks and bytes equal what was transferred, progress reaches 1 with synced in the same emission as the last block', async () => {
  const BLOCKS = 64
  const SIZE = 64 * 1024
  const { store: storeA, core } = await seeded(BLOCKS, SIZE)
  const storeB = h.store()
  const clone = storeB.get({ key: core.key as Buffer })
  await clone.ready()
  const a = h.networker(storeA)
  const b = h.networker(storeB)
  const dk = hex(core.discoveryKey)

  const atA = record(a.metrics$({ interval: 100 }))
  const atB = record(b.metrics$({ interval: 100 }))
  const progress = record<CoreProgress>(b.progress$(clone))

  await a.configure(core.discoveryKey as Buffer, { announce: true, lookup: false })
  await b.configure(core.discoveryKey as Buffer, { announce: false, lookup: true })
  await clone.download({ start: 0, end: BLOCKS }).done()
  await until(() => atB.values.some((s) => s.cores[dk]?.contiguousLength === BLOCKS), 10_000, 'a sample with every block')
  await until(() => progress.values.some((p) => p.contiguousLength === BLOCKS), 10_000, 'progress$ with every block')
  // Both sides quiet: their counters of the one connection should agree.
  await sleep(300)

  const keyA = hex(a.publicKey)
  const keyB = hex(b.publicKey)
  const lastB = b.metrics()
  const lastA = a.metrics()
  const coreB = lastB.cores[dk]
  const coreA = lastA.cores[dk]
  expect(coreB).toMatchObject({ key: hex(core.key), discoveryKey: dk, length: BLOCKS, contiguousLength: BLOCKS, remoteLength: BLOCKS })
  expect(coreB.byteLength).toBe(BLOCKS * SIZE)
  expect(coreB.blocksDown).toBe(BLOCKS)
  expect(coreB.bytesDown).toBe(BLOCKS * SIZE)
  expect(coreA.blocksUp).toBe(BLOCKS)
  expect(coreA.bytesUp).toBe(BLOCKS * SIZE)
  const peerA = lastB.peers[keyA]
  const peerB = lastA.peers[keyB]
  expect(peerA.replication).toMatchObject({ blocksDown: BLOCKS, bytesDown: BLOCKS * SIZE, blocksUp: 0, bytesUp: 0 })
  expect(peerB.replication).toMatchObject({ blocksUp: BLOCKS, bytesUp: BLOCKS * SIZE, blocksDown: 0, bytesDown: 0 })
  // The connection carried the blocks plus the documented overhead (proofs, framing, Noise, keep-alives).
  const overhead = peerA.bytesIn / (BLOCKS * SIZE) - 1
  console.log(
    JSON.stringify({
      scenario: 'download',
      blocks: BLOCKS,
      size: SIZE,
      bytesIn: peerA.bytesIn,
      overheadPct: +(overhead * 100).toFixed(3),
      bytesOutAtA: peerB.bytesOut,
      packetsIn: peerA.transport?.packetsIn,
      rtt: peerA.transport?.rtt,
      samplesB: atB.values.length,
      progressEmissions: progress.values.length
    })
  )
  expect(peerA.bytesIn).toBeGreaterThan(BLOCKS * SIZE)
  expect(overhead).toBeLessThan(0.02)
  // One connection, seen from both ends (keep-alives may be in flight).
  expect(Math.abs(peerB.bytesOut - peerA.bytesIn)).toBeLessThan(1024)
  expect(peerA.transport).not.toBeNull()
  expect(peerA.transport!.packetsIn).toBeGreaterThan(0)

  // metrics$: the first sample that shows every block shows progress 1 and synced; none before it is synced.
  const samples = atB.values.filter((s) => s.cores[dk] !== undefined && s.cores[dk].peers > 0)
  const full = samples.findIndex((s) => s.cores[dk].contiguousLength === BLOCKS)
  expect(samples[full].cores[dk]).toMatchObject({ progress: 1, synced: true, blocksDown: BLOCKS, etaSeconds: null })
  for (const s of samples.slice(0, full)) expect(s.cores[dk].synced).toBe(false)
  // progress$: the same, emission by emission.
  const withPeers = progress.values.filter((p) => p.peers > 0)
  const last = withPeers.findIndex((p) => p.contiguousLength === BLOCKS)
  expect(withPeers[last]).toEqual({ length: BLOCKS, contiguousLength: BLOCKS, remoteLength: BLOCKS, peers: 1, progress: 1, synced: true })
  for (const p of withPeers.slice(0, last)) expect(p.synced).toBe(false)
  expect(Object.isFrozen(withPeers[last])).toBe(true)
  for (const s of [...atA.values, ...atB.values]) expect(allRates(s).every((r) => r >= 0)).toBe(true)
})

test('metrics() equals the sample metrics$ emitted at the same instant; values are frozen and JSON-friendly', async () => {
  const { store: storeA, core } = await seeded(8, 1024)
  const a = h.networker(storeA)
  const b = h.networker()
  await connect(a, b, core.discoveryKey as Buffer)
  const pairs: Array<[NetworkerMetrics, NetworkerMetrics]> = []
  subscriptions.add(a.metrics$({ interval: 100 }).subscribe((sample) => pairs.push([sample, a.metrics()])))
  await until(() => pairs.length >= 3, 10_000, 'three samples')
  for (const [sample, snapshot] of pairs) expect(snapshot).toBe(sample)
  const sample = pairs[2][0]
  expect(Object.isFrozen(sample)).toBe(true)
  expect(Object.isFrozen(sample.peers)).toBe(true)
  expect(Object.isFrozen(Object.values(sample.peers)[0].replication)).toBe(true)
  expect(JSON.parse(JSON.stringify(sample))).toEqual(sample)
  expect(sample.swarm).toMatchObject({ peers: 1, connections: 1 })
  expect(sample.dht).not.toBeNull()
  expect(sample.cores[hex(core.discoveryKey)]).toBeDefined()
})


test('a core where nothing moved keeps its frozen value from sample to sample; one that moves gets a new value, and keeps it again only once a sample showed its rates back at 0', async () => {
  const storeA = h.store()
  const idle = storeA.get({ name: 'idle' })
  const busy = storeA.get({ name: 'busy' })
  await Promise.all([idle.ready(), busy.ready()])
  await idle.append(Buffer.from('one block'))
  const storeB = h.store()
  const idleClone = storeB.get({ key: idle.key as Buffer })
  const busyClone = storeB.get({ key: busy.key as Buffer })
  await Promise.all([idleClone.ready(), busyClone.ready()])
  const a = h.networker(storeA)
  const b = h.networker(storeB)
  await connect(a, b, idle.discoveryKey as Buffer)
  await idleClone.get(0)
  busyClone.download({ start: 0, end: -1 })
  const samples = record(b.metrics$({ interval: 100 })).values
  const idleKey = hex(idle.discoveryKey)
  const busyKey = hex(busy.discoveryKey)
  // Both cores synced with a peer, and two samples in a row with nothing moving on either.
  await until(
    () => samples.length >= 2 && [idleKey, busyKey].every((k) => samples.at(-1)?.cores[k]?.synced === true && samples.at(-1)?.cores[k] === samples.at(-2)?.cores[k]),
    10_000,
    'two samples of two settled cores'
  )
  const settled = samples.length
  await busy.append(Array.from({ length: 20 }, (_, i) => Buffer.alloc(4096, i)))
  await until(() => samples.at(-1)?.cores[busyKey]?.blocksDown === 20 && samples.at(-1)?.cores[busyKey]?.bytesDownPerSecond === 0, 10_000, 'the download seen, then a sample at rest')
  await until(() => samples.length >= settled + 2 && samples.at(-1)?.cores[busyKey] === samples.at(-2)?.cores[busyKey], 10_000, 'the busy core at rest again')
  const idleValues = new Set(samples.slice(settled - 1).map((s) => s.cores[idleKey]))
  const busyValues = samples.slice(settled - 1).map((s) => s.cores[busyKey])
  console.log(JSON.stringify({ scenario: 'sharing', samples: samples.length - settled + 1, idleValues: idleValues.size, busyValues: new Set(busyValues).size }))
  // The idle core: one value through the whole download of the other.
  expect(idleValues.size).toBe(1)
  // The busy core: a new value whenever something moved or a rate changed, never reused while moving.
  for (let k = 1; k < busyValues.length; k++) {
    if (busyValues[k] === busyValues[k - 1]) {
      expect(busyValues[k - 1].bytesDownPerSecond).toBe(0)
      expect(busyValues[k - 1].blocksDownPerSecond).toBe(0)
    } else {
      expect(busyValues[k]).not.toEqual(busyValues[k - 1])
    }
  }
  expect(busyValues.some((v) => v.bytesDownPerSecond > 0)).toBe(true)
  expect(busyValues.at(-1)).toMatchObject({ blocksDown: 20, synced: true, progress: 1, etaSeconds: null })
})


/** Appends `blocks` blocks of `size` bytes to `core`, one every `every` ms; resolves when done. */
function appendSteadily(core: Corestore.Hypercore, blocks: number, size: number, every: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let i = 0
    const timer = setInterval(() => {
      core.append(Buffer.alloc(size, i % 256)).catch(reject)
      if (++i === blocks) {
        clearInterval(timer)
        resolve()
      }
    }, every)
    h.onCleanup(() => clearInterval(timer))
  })
}

test('over a steady transfer, each rate is the bytes moved between two samples over the time between their timestamps, and the mean within 10% of size / time', async () => {
  const BLOCKS = 100
  const SIZE = 16 * 1024
  const storeA = h.store()
  const core = storeA.get({ name: 'live' })
  await core.ready()
  const storeB = h.store()
  const clone = storeB.get({ key: core.key as Buffer })
  await clone.ready()
  const a = h.networker(storeA)
  const b = h.networker(storeB)
  const dk = hex(core.discoveryKey)
  const { atLooker: peerAtB } = await connect(a, b, core.discoveryKey as Buffer)
  const keyA = hex(peerAtB.remotePublicKey)

  // What the test itself sees arrive, read at every emission (synchronously after the sample).
  let downloaded = 0
  clone.on('download', (_index: number, bytes: number) => (downloaded += bytes))
  const seen: Array<{ sample: NetworkerMetrics; downloaded: number }> = []
  subscriptions.add(b.metrics$({ interval: 200 }).subscribe((sample) => seen.push({ sample, downloaded })))
  clone.download({ start: 0, end: -1 })
  await appendSteadily(core, BLOCKS, SIZE, 20)
  await until(() => seen.some(({ sample }) => sample.cores[dk]?.blocksDown === BLOCKS), 20_000, 'a sample with every block')

  // Each rate: what moved between its sample and the one before, over the time between their timestamps.
  for (let k = 1; k < seen.length; k++) {
    const { sample, downloaded: now } = seen[k]
    const seconds = (sample.at - seen[k - 1].sample.at) / 1000
    expect(sample.elapsed).toBe(sample.at - seen[k - 1].sample.at)
    expect(sample.cores[dk].bytesDownPerSecond).toBeCloseTo((now - seen[k - 1].downloaded) / seconds, 6)
    expect(sample.peers[keyA].replication.bytesDownPerSecond).toBeCloseTo((now - seen[k - 1].downloaded) / seconds, 6)
  }
  // The transfer: from the last sample before its first block to the first with every block.
  const first = seen.findIndex(({ sample }) => (sample.cores[dk]?.blocksDown ?? 0) > 0) - 1
  const last = seen.findIndex(({ sample }) => sample.cores[dk]?.blocksDown === BLOCKS)
  const window = seen.slice(first + 1, last + 1).map(({ sample }) => sample)
  const seconds = (seen[last].sample.at - seen[first].sample.at) / 1000
  const sizeOverTime = (BLOCKS * SIZE) / seconds
  const mean = (rates: number[]): number => rates.reduce((x, y) => x + y, 0) / rates.length
  const blockRate = mean(window.map((s) => s.cores[dk].bytesDownPerSecond))
  const wireRate = mean(window.map((s) => s.peers[keyA].bytesInPerSecond))
  console.log(JSON.stringify({ scenario: 'steady', samples: window.length, seconds, sizeOverTime: Math.round(sizeOverTime), blockRate: Math.round(blockRate), wireRate: Math.round(wireRate) }))
  expect(Math.abs(blockRate / sizeOverTime - 1)).toBeLessThan(0.1)
  // The connection's own counter (blocks plus proofs, framing, keep-alives) agrees too.
  expect(Math.abs(wireRate / sizeOverTime - 1)).toBeLessThan(0.1)
  for (const { sample } of seen) expect(allRates(sample).every((r) => r >= 0)).toBe(true)
})

test('a peer swapped mid-transfer keeps its entry and counts on across the swap, with no negative rate', async () => {
  const BLOCKS = 150
  const SIZE = 16 * 1024
  const storeA = h.store()
  const core = storeA.get({ name: 'swapped' })
  await core.ready()
  const storeB = h.store()
  const clone = storeB.get({ key: core.key as Buffer })
  await clone.ready()
  // A long dedupe grace: the cut connection's replacement is a swap, not a remove and an add.
  const a = h.networker(storeA, { dedupeGraceTime: 8000 })
  const b = h.networker(storeB, { dedupeGraceTime: 8000 })
  const dk = hex(core.discoveryKey)
  const { atLooker: peerAtB } = await connect(a, b, core.discoveryKey as Buffer)
  const keyA = hex(peerAtB.remotePublicKey)
  let swapped = 0
  subscriptions.add(b.peerEvents$.subscribe(({ type }) => type === 'swap' && swapped++))
  const samples = record(b.metrics$({ interval: 100 }))
  clone.download({ start: 0, end: -1 })
  const appending = appendSteadily(core, BLOCKS, SIZE, 20)

  await until(() => clone.contiguousLength >= BLOCKS / 3, 20_000, 'a third of the blocks')
  const before = b.metrics().peers[keyA].bytesIn
  noiseOf(peerAtB).destroy()
  await until(() => swapped > 0, 15_000, 'the swap')
  await appending
  await until(() => samples.values.some((s) => s.cores[dk]?.contiguousLength === BLOCKS), 20_000, 'every block after the swap')
  await waitFor(b.metrics$({ interval: 100 }), () => true)

  const entries = samples.values.map((s) => s.peers[keyA])
  // The peer stayed (a swap is no remove), and its counters never went back.
  expect(entries.every((e) => e !== undefined)).toBe(true)
  for (let i = 1; i < entries.length; i++) {
    expect(entries[i].bytesIn).toBeGreaterThanOrEqual(entries[i - 1].bytesIn)
    expect(entries[i].bytesOut).toBeGreaterThanOrEqual(entries[i - 1].bytesOut)
    expect(entries[i].connectedSince).toBe(entries[0].connectedSince)
  }
  for (const s of samples.values) expect(allRates(s).every((r) => r >= 0)).toBe(true)
  const final = b.metrics()
  console.log(
    JSON.stringify({
      scenario: 'swap',
      swaps: final.peers[keyA].swaps,
      bytesInBeforeCut: before,
      bytesInAfter: final.peers[keyA].bytesIn,
      currentConnection: noiseOf(b.peers[0]).rawBytesRead,
      blocksDown: final.peers[keyA].replication.blocksDown
    })
  )
  expect(final.peers[keyA].swaps).toBeGreaterThanOrEqual(1)
  expect(final.swarm.swaps).toBeGreaterThanOrEqual(1)
  // Counted across both connections: every block's bytes at least, more than the new connection alone.
  expect(final.peers[keyA].bytesIn).toBeGreaterThan(BLOCKS * SIZE)
  expect(final.peers[keyA].bytesIn).toBeGreaterThan(before + (noiseOf(b.peers[0]).rawBytesRead ?? 0) - 1)
  expect(final.peers[keyA].replication.blocksDown).toBeGreaterThanOrEqual(BLOCKS)
})

test('progress$ of a core closed while observed completes, and leaves no listener on it', async () => {
  const { store: storeA, core } = await seeded(4, 1024)
  const storeB = h.store()
  const clone = storeB.get({ key: core.key as Buffer })
  await clone.ready()
  const a = h.networker(storeA)
  const b = h.networker(storeB)
  await a.configure(core.discoveryKey as Buffer, { announce: true, lookup: false })
  await b.configure(core.discoveryKey as Buffer, { announce: false, lookup: true })
  const progress = record(b.progress$(clone))
  await until(() => progress.values.some((p) => p.peers === 1), 10_000, 'the peer in progress$')
  expect(progress.completed()).toBe(false)
  await clone.close()
  await until(progress.completed, 5000, 'progress$ to complete')
  for (const name of ['download', 'upload', 'append', 'peer-add', 'peer-remove', 'close']) expect(clone.listenerCount(name)).toBe(0)
  // A core closed before the subscription: completes at once, no value.
  const late = record(b.progress$(clone))
  expect(late.completed()).toBe(true)
  expect(late.values).toEqual([])
})

test('progress$ turns synced when a peer that holds everything connects (its first sync brings no Hypercore event)', async () => {
  const { store: storeA, core } = await seeded(4, 1024)
  const storeB = h.store()
  const clone = storeB.get({ key: core.key as Buffer })
  await clone.ready()
  const a = h.networker(storeA)
  const first = h.networker(storeB)
  await a.configure(core.discoveryKey as Buffer, { announce: true, lookup: false })
  await first.configure(core.discoveryKey as Buffer, { announce: false, lookup: true })
  await clone.download({ start: 0, end: 4 }).done()
  const keyB = hex(first.publicKey)
  expect(Object.keys(a.metrics().peers)).toEqual([keyB])
  await first.close()
  await waitForPeers(a, 0)
  // A removed peer's entry is gone (entries follow the peer set: at most maxPeers).
  expect(a.metrics().peers).toEqual({})

  // Both hold every block: when they meet again nothing is downloaded and no length changes.
  const again = h.networker(storeB)
  const progress = record(again.progress$(clone))
  await again.configure(core.discoveryKey as Buffer, { announce: false, lookup: true })
  await until(() => progress.values.some((p) => p.peers === 1 && p.synced), 10_000, () => `synced with the peer (${JSON.stringify(progress.values)})`)
  expect(progress.values.find((p) => p.peers === 1 && p.synced)).toEqual({
    length: 4,
    contiguousLength: 4,
    remoteLength: 4,
    peers: 1,
    progress: 1,
    synced: true
  })
})

test("each peer's extension traffic: what was sent to it and received from it, per extension name", async () => {
  const a = h.networker()
  const b = h.networker()
  const chatA = a.registerExtension('chat', { encoding: 'utf-8' })
  const chatB = b.registerExtension('chat', { encoding: 'utf-8' })
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: false })
  await b.configure(topic, { announce: false, lookup: true })
  const [peerAtA] = await waitForPeers(a, 1)
  const received: string[] = []
  subscriptions.add(chatB.messages$.subscribe(({ message }) => received.push(message)))
  for (let i = 0; i < 10; i++) chatA.send(`hello ${i}`, peerAtA)
  await until(() => received.length === 10, 10_000, 'ten messages')
  await chatA.drained()
  const keyB = hex(peerAtA.remotePublicKey)
  const keyA = hex(a.publicKey)
  await until(() => a.metrics().peers[keyB].extensions.chat.inFlight === 0, 5000, 'the acknowledgement')
  expect(a.metrics().peers[keyB].extensions).toEqual({ chat: { sent: 10, resent: 0, received: 0, dropped: 0, queued: 0, inFlight: 0 } })
  expect(b.metrics().peers[keyA].extensions.chat).toMatchObject({ sent: 0, received: 10 })
  expect(chatA.stats).toMatchObject({ sent: 10, dropped: 0 })
})

/** Hypercore's own replication handshake and capability (internals of the version this stack pins). */
const hypercoreWire = require('hypercore/lib/messages') as { wire: { handshake: Protomux.Encoding<{ seeks: boolean; capability: Buffer }> } }
const hypercoreCaps = require('hypercore/lib/caps') as { replicate(isInitiator: boolean, key: Buffer, handshakeHash: Buffer): Buffer }

test(`a peer that opens a core's replication and never syncs: progress$ stops looking after PROGRESS_SYNC_WAIT_MS and never calls the core synced`, async () => {
  const { store, core } = await seeded(4, 1024)
  const scheduler = new RecordingScheduler(asyncScheduler)
  const a = h.networker(store, { scheduler })
  await a.configure(core.discoveryKey as Buffer, { announce: true, lookup: false })
  const progress = record(a.progress$(core))
  const since = scheduler.timers.length
  const armed = (): number => scheduler.timers.slice(since).filter((t) => !t.closed).length

  // A plain swarm that answers the keep-alive channel (so it becomes a peer), opens the core's
  // replication channel with a valid capability, and then says nothing: no sync, ever.
  const swarm = new Hyperswarm({ dht: h.net.swarmOptions().dht as HyperDHT })
  h.onCleanup(() => swarm.destroy())
  swarm.on('connection', (conn: NoiseSecretStream) => {
    conn.on('error', () => {})
    const mux = Protomux.from(conn)
    mux.createChannel({ protocol: KEEPALIVE_PROTOCOL, messages: [{ encoding: c.raw }, { encoding: c.raw }] })?.open()
    const channel = mux.createChannel({
      protocol: 'hypercore/alpha',
      id: core.discoveryKey as Buffer,
      handshake: hypercoreWire.wire.handshake,
      messages: Array.from({ length: 10 }, () => ({ encoding: c.raw }))
    })
    channel?.open({ seeks: false, capability: hypercoreCaps.replicate(conn.isInitiator, core.key as Buffer, conn.handshakeHash as Buffer) })
  })
  ;(swarm as unknown as { joinPeer(key: Buffer): void }).joinPeer(a.publicKey as Buffer)

  await until(() => progress.values.some((p) => p.peers === 1), 10_000, 'the silent peer in progress$')
  expect(progress.values.filter((p) => p.peers === 1).every((p) => !p.synced)).toBe(true)
  // Looking again while the peer is unknown…
  expect(armed()).toBeGreaterThan(0)
  // …for at most the budget, then nothing is left armed.
  await until(() => armed() === 0, PROGRESS_SYNC_WAIT_MS + 3000, () => `the looks to stop (${armed()} armed)`)
  const after = progress.values.length
  await sleep(300)
  expect(armed()).toBe(0)
  expect(progress.values).toHaveLength(after)
  expect(progress.values[after - 1]).toMatchObject({ peers: 1, synced: false })
  expect(progress.completed()).toBe(false)
})

test('metrics$ and progress$ complete on close, and at once when subscribed after it', async () => {
  const { store, core } = await seeded(2, 16)
  const n = h.networker(store)
  await n.listen()
  const metrics = record(n.metrics$({ interval: 100 }))
  const progress = record(n.progress$(core))
  await until(() => metrics.values.length > 0, 5000, 'a sample')
  await n.close()
  expect(metrics.completed()).toBe(true)
  expect(progress.completed()).toBe(true)
  const late = record(n.metrics$())
  const lateProgress = record(n.progress$(core))
  expect(late.completed()).toBe(true)
  expect(late.values).toEqual([])
  expect(lateProgress.completed()).toBe(true)
  // A snapshot after close still answers (no throw): nothing connected.
  expect(n.metrics().swarm.peers).toBe(0)
})

/** Timers alive in this process (`setTimeout`/`setInterval`), as Node lists its active resources. */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
}

/** Listeners on an emitter, over every event name. */
function listeners(emitter: { eventNames(): Array<string | symbol>; listenerCount(name: string | symbol): number }): number {
  return emitter.eventNames().reduce((sum, name) => sum + emitter.listenerCount(name), 0)
}

interface StoreInternals {
  readonly cores: Iterable<{ readonly monitors: readonly unknown[] }>
  readonly watchers: ReadonlySet<unknown> | null
}

test('subscribers of one interval share one sampler; once the last leaves no timer, monitor or listener is left', async () => {
  const { store: storeA, core } = await seeded(16, 4096)
  const storeB = h.store()
  const clone = storeB.get({ key: core.key as Buffer })
  await clone.ready()
  // The networker's scheduler, recording every timer asked of it (metrics$ and progress$ use it).
  const scheduler = new RecordingScheduler(asyncScheduler)
  const a = h.networker(storeA)
  const b = h.networker(storeB, { scheduler })
  await a.configure(core.discoveryKey as Buffer, { announce: true, lookup: false })
  await b.configure(core.discoveryKey as Buffer, { announce: false, lookup: true })
  await clone.download({ start: 0, end: 16 }).done()
  const [peer] = await waitForPeers(b, 1)
  const internals = storeB as unknown as StoreInternals
  let since = 0
  const state = (): Record<string, number> => ({
    // Timers asked of the scheduler since `since` and still armed.
    schedulerTimers: scheduler.timers.slice(since).filter((t) => !t.closed).length,
    // Hypercore's monitors other than sessions (a session stays one once it had a 'download'
    // listener, Hypercore's own bookkeeping: its listeners are counted below).
    monitors: [...internals.cores].reduce((sum, c) => sum + c.monitors.filter((m) => !(m instanceof EventEmitter)).length, 0),
    storeWatchers: internals.watchers?.size ?? 0,
    coreListeners: listeners(clone),
    streamListeners: listeners(noiseOf(peer)),
    swarmListeners: listeners(b.hyperswarm as unknown as Parameters<typeof listeners>[0])
  })
  await sleep(200)
  since = scheduler.timers.length
  const idle = state()
  const idleTimers = timers()

  const first: NetworkerMetrics[] = []
  const second: NetworkerMetrics[] = []
  const subs = [
    b.metrics$({ interval: 100 }).subscribe((s) => first.push(s)),
    b.metrics$({ interval: 100 }).subscribe((s) => second.push(s)),
    b.metrics$({ interval: 250 }).subscribe(),
    b.progress$(clone).subscribe()
  ]
  await until(() => second.length >= 3, 5000, 'three samples')
  // One sampler: the second subscriber got the first's latest sample at once, then the same objects.
  expect(second[0]).toBe(first[0])
  for (const sample of second) expect(first).toContain(sample)
  const busy = state()
  // One timer per interval (two), however many subscribers.
  expect(busy.schedulerTimers).toBe(2)
  expect(busy.monitors).toBeGreaterThan(idle.monitors)
  expect(busy.storeWatchers).toBe(idle.storeWatchers + 1)
  expect(busy.coreListeners).toBeGreaterThan(idle.coreListeners)

  for (const sub of subs) sub.unsubscribe()
  expect(state()).toEqual(idle)
  // And in the whole process (other parts' timers come and go: eventually no more than before).
  await until(() => timers() <= idleTimers, 5000, () => `process timers back to ${idleTimers} (now ${timers()})`)
  console.log(JSON.stringify({ scenario: 'teardown', idle, busy, idleTimers }))
})
