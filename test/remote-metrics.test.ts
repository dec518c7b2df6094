/**
 * `metrics$` and `progress$` over `@basestore/networker/remote` (issue 23, item 5), on real parts:
 * two networkers on the loopback testnet with real Corestores, a core replicated between them, the
 * WebSocket server on 127.0.0.1 and the client. The values a client gets equal the server's own;
 * no core key (a read capability) crosses the wire; a client that cannot keep up with its metrics
 * is cut at `maxBufferedBytes` like any other.
 */
import b4a from 'b4a'
import type Corestore from 'corestore'
import { WebSocket } from 'ws'
import { Observable, Subscription, filter, firstValueFrom, timeout } from 'rxjs'
import type { CoreProgress, NetworkerMetrics } from '../lib/metrics'
import { serveNetworker, CloseCodes, type RemoteServer, type ServeOptions, type ServedNetworker } from '../lib/remote/server'
import type { RemoteCoreProgress, RemoteError, RemoteNetworkerMetrics, WebSocketConstructor } from '../lib/remote/client'
import { NetworkerError } from '../lib/errors'
import { clientKit, createHarness, Harness, randomTopic, rawClient, until, waitForPeers } from './kit'

let h: Harness
let subscriptions: Subscription
const clients = clientKit()
const servers: RemoteServer[] = []

beforeEach(async () => {
  subscriptions = new Subscription()
  h = await createHarness()
})

afterEach(async () => {
  subscriptions.unsubscribe()
  clients.closeAll()
  await Promise.all(servers.splice(0).map((server) => server.close()))
  await h.cleanup()
})

async function serve(networker: ServedNetworker, opts: ServeOptions = {}): Promise<RemoteServer> {
  const server = await serveNetworker(networker, opts)
  servers.push(server)
  return server
}

function hex(key: Uint8Array | null | undefined): string {
  if (!key) throw new Error('no key')
  return b4a.toString(key, 'hex')
}

function record<T>(source: Observable<T>): { values: T[]; errors: unknown[]; completed: () => boolean } {
  const values: T[] = []
  const errors: unknown[] = []
  let done = false
  subscriptions.add(
    source.subscribe({ next: (v) => values.push(v), error: (e: unknown) => errors.push(e), complete: () => (done = true) })
  )
  return { values, errors, completed: () => done }
}

/** A WebSocket that records every message it receives (what crossed the wire). */
function recordingSocket(sockets: WebSocket[], wire: string[]): WebSocketConstructor {
  return class RecordingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols)
      sockets.push(this)
      this.on('message', (data) => wire.push(String(data)))
    }
  }
}

/** A store with one core of `blocks` blocks of `size` bytes. */
async function seeded(blocks: number, size: number): Promise<{ store: Corestore; core: Corestore.Hypercore }> {
  const store = h.store()
  const core = store.get({ name: 'data' })
  await core.ready()
  const data: Buffer[] = []
  for (let i = 0; i < blocks; i++) data.push(Buffer.alloc(size, i % 256))
  await core.append(data)
  return { store, core }
}

/** A sample without core keys: what the server must send for `sample`. */
function stripped(sample: NetworkerMetrics): unknown {
  const cores: Record<string, unknown> = {}
  for (const [dk, core] of Object.entries(sample.cores)) {
    const { key: _key, ...rest } = core
    cores[dk] = rest
  }
  return { ...sample, cores }
}

test('a client gets the server’s metrics samples and a core’s progress by discovery key, equal to the local ones, and never a core key', async () => {
  const BLOCKS = 48
  const SIZE = 16 * 1024
  const { store: storeA, core } = await seeded(BLOCKS, SIZE)
  const storeB = h.store()
  const clone = storeB.get({ key: core.key as Buffer })
  await clone.ready()
  const a = h.networker(storeA)
  const b = h.networker(storeB)
  const dk = hex(core.discoveryKey)
  const key = hex(core.key)

  const server = await serve(b, { store: storeB })
  const wire: string[] = []
  const client = clients.connect(server.url, { WebSocketCtor: recordingSocket([], wire) })

  // The server's own subscriber first: the client's subscription shares that stream (one per interval).
  const local = record(b.metrics$({ interval: 100 }))
  const localProgress = record<CoreProgress>(b.progress$(clone))
  const remote = record<RemoteNetworkerMetrics>(client.metrics$({ interval: 100 }))
  const remoteProgress = record<RemoteCoreProgress>(client.progress$(dk))
  await until(() => remote.values.length > 0 && remoteProgress.values.length > 0, 10_000, 'first remote values')

  await a.configure(core.discoveryKey as Buffer, { announce: true, lookup: false })
  await b.configure(core.discoveryKey as Buffer, { announce: false, lookup: true })
  await clone.download({ start: 0, end: BLOCKS }).done()
  await until(() => remoteProgress.values.some((p) => p.synced && p.contiguousLength === BLOCKS), 10_000, 'remote progress synced')
  await until(() => remote.values.some((s) => s.cores[dk]?.contiguousLength === BLOCKS), 10_000, 'a remote sample with every block')

  // Every remote sample is the local sample taken at the same instant, without core keys.
  const byAt = new Map(local.values.map((s) => [s.at, s]))
  let matched = 0
  for (const sample of remote.values) {
    const same = byAt.get(sample.at)
    if (same === undefined) continue
    expect(sample).toEqual(stripped(same))
    matched++
  }
  const full = remote.values.find((s) => s.cores[dk]?.contiguousLength === BLOCKS) as RemoteNetworkerMetrics
  expect(full.cores[dk]).toMatchObject({ discoveryKey: dk, length: BLOCKS, contiguousLength: BLOCKS, progress: 1, synced: true, blocksDown: BLOCKS, bytesDown: BLOCKS * SIZE })
  expect('key' in full.cores[dk]).toBe(false)
  expect(Object.isFrozen(full.cores[dk])).toBe(true)
  // progress$ by discovery key: the same sequence's end as the local progress$ of the core itself.
  const lastRemote = remoteProgress.values.at(-1)
  expect(lastRemote).toEqual(localProgress.values.at(-1))
  expect(lastRemote).toEqual({ length: BLOCKS, contiguousLength: BLOCKS, remoteLength: BLOCKS, peers: 1, progress: 1, synced: true })
  const progressOfDownload = remoteProgress.values.filter((p) => p.peers > 0).map((p) => p.progress)
  // The core key never crossed the wire; its discovery key did.
  const text = wire.join('\n')
  console.log(
    JSON.stringify({
      remoteSamples: remote.values.length,
      matchedByInstant: matched,
      progressEmissions: remoteProgress.values.length,
      progressValues: progressOfDownload.map((p) => +p.toFixed(2)),
      wireBytes: text.length,
      keyOccurrences: text.split(key).length - 1,
      discoveryKeyOccurrences: text.split(dk).length - 1
    })
  )
  expect(matched).toBeGreaterThan(0)
  expect(text).not.toContain(key)
  expect(text).toContain(dk)

  // Unsubscribing frees the server's subscriptions (and the session it opened on the core).
  subscriptions.unsubscribe()
  await until(() => server.subscriptions === 0, 5000, 'no subscriptions left')
})

test('progress$ of a key with no open core, or from a server without a store, errors with ERR_UNKNOWN_CORE; bad intervals are refused', async () => {
  const { store, core } = await seeded(1, 16)
  const n = h.networker(store)
  const withStore = await serve(n, { store })
  const withoutStore = await serve(n)
  const client = clients.connect(withStore.url)
  const dk = hex(core.discoveryKey)

  const unknown = await firstValueFrom(client.progress$(randomTopic()).pipe(timeout(5000))).catch((e: RemoteError) => e)
  expect(unknown).toMatchObject({ name: 'RemoteError', code: 'ERR_UNKNOWN_CORE' })
  const known = await firstValueFrom(client.progress$(dk).pipe(timeout(5000)))
  expect(known).toMatchObject({ length: 1, contiguousLength: 1, peers: 0, synced: true })
  const other = clients.connect(withoutStore.url)
  const noStore = await firstValueFrom(other.progress$(dk).pipe(timeout(5000))).catch((e: RemoteError) => e)
  expect(noStore).toMatchObject({ code: 'ERR_UNKNOWN_CORE' })

  // The client refuses what the local metrics$ refuses, before anything is sent.
  for (const interval of [50, Number.NaN, Infinity]) {
    expect(() => client.metrics$({ interval })).toThrow(NetworkerError)
  }
  expect(() => client.progress$('not a key')).toThrow(TypeError)
  // A client that sends one anyway gets the networker's own error for it on that subscription.
  const raw = rawClient(withStore.url)
  await raw.opened
  raw.ws.send(JSON.stringify({ op: 'sub', id: 1, stream: 'metrics', interval: 50 }))
  await until(() => raw.received.some((m) => m.includes('"op":"error"')), 5000, 'an error frame')
  const frame = raw.received.map((m) => JSON.parse(m) as { op: string; id?: number; code?: string }).find((f) => f.op === 'error')
  expect(frame).toMatchObject({ op: 'error', id: 1, code: 'ERR_INVALID_OPTION' })
  raw.ws.close()
  // And the connection stays open: subscriptions keep working.
  await firstValueFrom(client.metrics$({ interval: 100 }).pipe(timeout(5000)))
  expect(client.closeInfo).toBeNull()
})

test('a client that cannot keep up with its metrics is closed with 4008 at maxBufferedBytes, and comes back', async () => {
  // Many cores make big samples: a paused client falls behind quickly.
  const CORES = 100
  const storeA = h.store()
  const storeB = h.store()
  const keep: Corestore.Hypercore[] = []
  for (let i = 0; i < CORES; i++) {
    const core = storeA.get({ name: `core-${i}` })
    await core.ready()
    await core.append(Buffer.from(`block ${i}`))
    const clone = storeB.get({ key: core.key as Buffer })
    await clone.ready()
    keep.push(core, clone)
  }
  const a = h.networker(storeA)
  const b = h.networker(storeB)
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: false })
  await b.configure(topic, { announce: false, lookup: true })
  await waitForPeers(b, 1)
  await until(() => Object.keys(b.metrics().cores).length >= CORES, 10_000, 'every core replicating')
  const sampleBytes = JSON.stringify(b.metrics()).length

  const MAX_BUFFERED = 64 * 1024
  const server = await serve(b, { maxBufferedBytes: MAX_BUFFERED })
  const sockets: WebSocket[] = []
  const client = clients.connect(server.url, { WebSocketCtor: recordingSocket(sockets, []) })
  const states: string[] = []
  client.connection$.subscribe((s) => states.push(s))
  const STREAMS = 16
  for (let i = 0; i < STREAMS; i++) record(client.metrics$({ interval: 100 + i }))
  await until(() => server.subscriptions === STREAMS, 5000, 'every subscription')
  sockets[0].pause()
  await until(() => server.subscriptions === 0, 60_000, 'the server gave up on the client')
  sockets[0].resume()
  await until(() => states.includes('reconnecting'), 10_000, 'reconnecting')
  await firstValueFrom(client.connection$.pipe(filter((s) => s === 'open'), timeout(10_000)))
  expect(client.closeInfo?.code).toBe(CloseCodes.TOO_SLOW)
  // It comes back with its subscriptions, and samples flow again.
  await until(() => server.subscriptions === STREAMS, 10_000, 'subscriptions again')
  console.log(JSON.stringify({ cores: CORES, sampleBytes, streams: STREAMS, maxBufferedBytes: MAX_BUFFERED, closeCode: client.closeInfo?.code }))
})
