import b4a from 'b4a'
import type { ChildProcessWithoutNullStreams } from 'child_process'
import type Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import { Observable, take } from 'rxjs'
import { ReactiveNetworker, NetworkerOptions } from '../../lib/reactive-networker'
import { NetworkerError } from '../../lib/errors'
import type { Peer } from '../../lib/peer'
import { connectedPair, createHarness, Harness, randomTopic, sleep, waitFor, spawnFixture, until, noiseOf } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

function peersNow(networker: ReactiveNetworker): readonly Peer[] {
  let peers: readonly Peer[] | null = null
  networker.peers$.pipe(take(1)).subscribe((p) => (peers = p))
  if (peers === null) throw new Error('peers$ did not replay the current set')
  return peers
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => {
      throw new Error(`expected a rejection with ${code}, got a resolution`)
    },
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(NetworkerError)
  expect((err as NetworkerError).code).toBe(code)
}

function expectThrowCode(fn: () => unknown, code: string): void {
  let thrown: unknown = null
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  expect(thrown).toBeInstanceOf(NetworkerError)
  expect((thrown as NetworkerError).code).toBe(code)
}

/** Rejects if `promise` has not settled in `ms` (a hang detector, not a timing assertion). */
function settlesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle in ${ms} ms`)), ms)
  })
  const settled = promise.then(
    (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
    (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason })
  )
  return Promise.race([settled, hang]).finally(() => clearTimeout(timer))
}


test('closing twice returns the same promise', async () => {
  const a = h.networker()
  await a.configure(randomTopic())
  const first = a.close()
  const second = a.close()
  expect(second).toBe(first)
  await first
  expect(a.close()).toBe(first)
  expect(a.closed).toBe(true)
})

test('closing a never-opened networker is fine and does not hang', async () => {
  // With a DHT node handed in (it must be destroyed, or the process would not exit) …
  const withDht = h.networker()
  const result = await settlesWithin(withDht.close(), 10_000, 'close()')
  expect(result.status).toBe('fulfilled')
  expect(withDht.publicKey).toBeNull()
  expect(withDht.close()).toBe(withDht.close())

  // … and without any option at all.
  const bare = new ReactiveNetworker(h.store())
  const bareResult = await settlesWithin(bare.close(), 10_000, 'close()')
  expect(bareResult.status).toBe('fulfilled')
  expect(bare.publicKey).toBeNull()
})

test('after close every stream completes', async () => {
  const { a, topic } = await connectedPair(h)
  const names = ['peers$', 'peerEvents$', 'topics$', 'errors$', 'topic$'] as const
  const streams: Record<(typeof names)[number], Observable<unknown>> = {
    peers$: a.peers$,
    peerEvents$: a.peerEvents$,
    topics$: a.topics$,
    errors$: a.errors$,
    topic$: a.topic$(topic)
  }
  const completed = new Set<string>()
  const errored: string[] = []
  for (const name of names) {
    streams[name].subscribe({ complete: () => completed.add(name), error: () => errored.push(name) })
  }
  expect(completed.size).toBe(0)
  await a.close()
  expect([...completed].sort()).toEqual([...names].sort())
  expect(errored).toEqual([])

  // A subscriber that comes after close gets the completion at once.
  const late = new Set<string>()
  for (const name of names) streams[name].subscribe({ complete: () => late.add(name) })
  a.topic$(randomTopic()).subscribe({ complete: () => late.add('topic$(new key)') })
  expect([...late].sort()).toEqual([...names, 'topic$(new key)'].sort())
})

test('configure after close rejects with ERR_CLOSED', async () => {
  const opened = h.networker()
  await opened.configure(randomTopic())
  await opened.close()
  await expectCode(opened.configure(randomTopic()), 'ERR_CLOSED')
  await expectCode(opened.configure(randomTopic(), { announce: false, lookup: false }), 'ERR_CLOSED')

  const neverOpened = h.networker()
  await neverOpened.close()
  await expectCode(neverOpened.configure(randomTopic()), 'ERR_CLOSED')
  expect(neverOpened.publicKey).toBeNull()
})

test('close() while a configure is in flight: configure settles (ERR_CLOSED or resolved), never hangs', async () => {
  // Jest fails the test on an unhandled rejection, so none may escape here.
  const check = (result: PromiseSettledResult<unknown>): void => {
    if (result.status === 'rejected') {
      expect(result.reason).toBeInstanceOf(NetworkerError)
      expect((result.reason as NetworkerError).code).toBe('ERR_CLOSED')
    }
  }
  const topic = randomTopic()
  const announcer = h.networker()
  await announcer.configure(topic, { announce: true, lookup: false })

  // 1. Close in the same tick as configure (before the swarm even exists).
  const a = h.networker()
  const pending = a.configure(topic, { flush: true })
  const closing = a.close()
  check(await settlesWithin(pending, 10_000, 'configure'))
  expect((await settlesWithin(closing, 10_000, 'close')).status).toBe('fulfilled')

  // 2. Close once the swarm listens and the join started, while it waits for the flush.
  const b = h.networker()
  await b.listen()
  const joining = b.configure(topic, { announce: false, lookup: true, flush: true })
  await waitFor(b.topic$(topic), (s) => s.joined, 10_000)
  const closingB = b.close()
  check(await settlesWithin(joining, 10_000, 'configure'))
  expect((await settlesWithin(closingB, 10_000, 'close')).status).toBe('fulfilled')

  // 3. Several queued calls for one key, then close.
  const c = h.networker()
  const queued = [
    c.configure(topic, { announce: true, lookup: true }),
    c.configure(topic, { announce: false, lookup: true }),
    c.configure(topic, { announce: false, lookup: false })
  ]
  await sleep(1)
  const closingC = c.close()
  for (const p of queued) check(await settlesWithin(p, 10_000, 'configure'))
  expect((await settlesWithin(closingC, 10_000, 'close')).status).toBe('fulfilled')

  // Late rejections (if any) would surface here and fail the test.
  await sleep(200)
})

test('close() makes the remote see the peer leave promptly', async () => {
  const { a, b } = await connectedPair(h)
  const bKey = b.publicKey as Buffer
  await b.close()
  // Default dedupe grace is 500 ms; a killed peer would take ~17 s to be noticed.
  const peers = await waitFor(a.peers$, (p) => p.length === 0, 500 + 4_000)
  expect(peers.some((p) => b4a.equals(p.remotePublicKey, bKey))).toBe(false)
})

test('peers$ hands a late subscriber the current set', async () => {
  const { a, b } = await connectedPair(h)
  const peers = peersNow(a)
  expect(peers).toHaveLength(1)
  expect(b4a.equals(peers[0].remotePublicKey, b.publicKey as Buffer)).toBe(true)
  expect(peersNow(b).map((p) => b4a.toString(p.remotePublicKey, 'hex'))).toEqual([(a.publicKey as Buffer).toString('hex')])
  // Before anything connected, a late subscriber gets the empty set.
  expect(peersNow(h.networker())).toEqual([])
})

test('a malformed key rejects with ERR_INVALID_KEY before any I/O', async () => {
  const a = h.networker()
  const bad: unknown[] = [
    Buffer.alloc(31),
    Buffer.alloc(33),
    new Uint8Array(0),
    'ab'.repeat(31) + 'a',
    'ab'.repeat(33),
    'zz'.repeat(32),
    ' ' + 'ab'.repeat(32).slice(1),
    '',
    42,
    null,
    undefined,
    {},
    Array.from({ length: 32 }, () => 0)
  ]
  for (const key of bad) {
    await expectCode(a.configure(key as string), 'ERR_INVALID_KEY')
  }
  expect(a.publicKey).toBeNull()
})

test('a bad configure option rejects with ERR_INVALID_OPTION before any I/O', async () => {
  const a = h.networker()
  const topic = randomTopic()
  await expectCode(a.configure(topic, { announce: 'yes' as unknown as boolean }), 'ERR_INVALID_OPTION')
  await expectCode(a.configure(topic, { lookup: 1 as unknown as boolean }), 'ERR_INVALID_OPTION')
  await expectCode(a.configure(topic, { flush: 'true' as unknown as boolean }), 'ERR_INVALID_OPTION')
  await expectCode(a.configure(topic, { remember: null as unknown as boolean }), 'ERR_INVALID_OPTION')
  await expectCode(a.configure(topic, 5 as unknown as object), 'ERR_INVALID_OPTION')
  await expectCode(a.configure(topic, null as unknown as object), 'ERR_INVALID_OPTION')
  expect(a.publicKey).toBeNull()
  expect(a.status(topic)).toBeNull()
})

test('the constructor throws ERR_INVALID_OPTION for a bad store, timeout or keyPair', () => {
  // No `dht` here: a constructor that throws must not leave a DHT node open.
  const stores: unknown[] = [null, undefined, 'a dir', 5, {}, { replicate: 'no' }]
  for (const store of stores) {
    expectThrowCode(() => new ReactiveNetworker(store as Corestore), 'ERR_INVALID_OPTION')
  }
  const store = h.store()
  const good = crypto.keyPair()
  const badOptions: unknown[] = [
    5,
    'opts',
    null,
    { timeout: -1 },
    { timeout: 'soon' },
    { timeout: Number.NaN },
    { timeout: Number.POSITIVE_INFINITY },
    { keyPair: null },
    { keyPair: 'secret' },
    { keyPair: { publicKey: good.publicKey } },
    { keyPair: { publicKey: good.publicKey.subarray(0, 31), secretKey: good.secretKey } },
    { keyPair: { publicKey: good.publicKey, secretKey: good.secretKey.subarray(0, 32) } },
    { keyPair: { publicKey: good.publicKey.toString('hex'), secretKey: good.secretKey } },
    { keyPair: { publicKey: good.publicKey, secretKey: good.secretKey, extra: 1 }, timeout: -5 }
  ]
  for (const opts of badOptions) {
    expectThrowCode(() => new ReactiveNetworker(store, opts as NetworkerOptions), 'ERR_INVALID_OPTION')
  }
  // A good key pair and timeout are accepted (and nothing is opened by the constructor).
  const ok = new ReactiveNetworker(store, { keyPair: good, timeout: 2000 })
  expect(ok.publicKey).toBeNull()
  return ok.close()
})

interface Child {
  process: ChildProcessWithoutNullStreams
  publicKey: string
  /** Resolves once the child reports a connected peer with this key. */
  connectedTo(key: string, ms: number): Promise<void>
}

async function startTimeoutPeer(topic: Buffer, timeout: number): Promise<Child> {
  const dir = h.tmpdir() // removed by the harness once the child is gone
  const fixture = spawnFixture(h, 'timeout-peer.ts', [JSON.stringify(h.net.bootstrap), topic.toString('hex'), dir, String(timeout)])
  const find = (field: string): unknown => fixture.lines.find((l) => field in l)?.[field]
  await until(() => typeof find('publicKey') === 'string' || fixture.child.exitCode !== null, 30_000, 'the child to start')
  if (typeof find('publicKey') !== 'string') throw new Error(`the child exited early (${String(fixture.child.exitCode)})`)
  return {
    process: fixture.child,
    publicKey: find('publicKey') as string,
    connectedTo: (key, ms) => until(() => fixture.lines.some((l) => l.peer === key), ms, `the child to see ${key.slice(0, 8)}`)
  }
}

/**
 * A `timeout-peer` child (announcing `topic`) and a parent networker that dialled it, both with
 * `timeout`, each seeing the other as a peer.
 */
async function parentOfTimeoutPeer(timeout: number): Promise<{ child: Child; parent: ReactiveNetworker; childPeer: (peers: readonly Peer[]) => Peer | undefined }> {
  const topic = randomTopic()
  const child = await startTimeoutPeer(topic, timeout)
  const parent = h.networker(h.store(), { timeout })
  await parent.configure(topic, { announce: false, lookup: true })
  const childPeer = (peers: readonly Peer[]): Peer | undefined =>
    peers.find((p) => b4a.toString(p.remotePublicKey, 'hex') === child.publicKey)
  await waitFor(parent.peers$, (peers) => childPeer(peers) !== undefined, 20_000)
  await child.connectedTo((parent.publicKey as Buffer).toString('hex'), 20_000)
  return { child, parent, childPeer }
}

test('a remote that told us of its stalls keeps its connection through a longer one (SIGSTOP), and a killed one is still dropped', async () => {
  const timeout = 2000
  const { child, parent, childPeer } = await parentOfTimeoutPeer(timeout)
  // Every change of the child's peer (a drop and a quick re-dial would show as a swap) and every
  // close of a connection to it.
  const changes: string[] = []
  parent.peerEvents$.subscribe(({ type, peer }) => {
    if (b4a.toString(peer.remotePublicKey, 'hex') === child.publicKey) changes.push(type)
  })
  parent.connections$.subscribe(({ type, connection }) => {
    if (type === 'close' && b4a.toString(connection.remotePublicKey, 'hex') === child.publicKey) changes.push('close')
  })
  const connection = noiseOf(childPeer(peersNow(parent)) as Peer)
  const stop = async (ms: number): Promise<void> => {
    child.process.kill('SIGSTOP')
    await sleep(ms)
    child.process.kill('SIGCONT')
  }
  // A short stall, well inside the timeout: the child's watchdog sees it and tells us (~800 ms).
  await stop(800)
  await sleep(500)
  // Then one longer than the timeout. Without the report it is cut at 2 s of silence; with it, its
  // budget is 2 s plus twice the reported stall (decaying): about 3.3 s at the end of this one.
  await stop(2300)
  await sleep(1500)
  expect(changes).toEqual([])
  expect(connection.destroyed).toBe(false)
  // A dead remote is still dropped, within its stretched budget.
  const killed = Date.now()
  child.process.kill('SIGKILL')
  await waitFor(parent.peers$, (peers) => childPeer(peers) === undefined, 20_000)
  expect(Date.now() - killed).toBeLessThan(timeout + 2 * 2 * timeout + 1000)
})

test('the timeout option: a peer that stops answering is dropped in about timeout', async () => {
  const timeout = 2000
  // The child (timeout 2000 too) announces; the parent looks it up and dials, so the test starts
  // from one clean connection. (A half-open one, which a dialling child process used to get on
  // firewalled nodes, is now itself dropped within the timeout: see keepalive.test.ts.)
  const { child, parent, childPeer } = await parentOfTimeoutPeer(timeout)

  // A healthy idle peer is kept: both sides ask each other for keep-alives at timeout / 4.
  await sleep(timeout * 2 + 500)
  const peer = childPeer(peersNow(parent))
  expect(peer).toBeDefined()
  // The remote answers our request with keep-alives at a quarter of the timeout.
  expect(peer && noiseOf(peer).keepAlive).toBe(timeout / 4)

  const started = Date.now()
  child.process.kill('SIGKILL')
  await waitFor(parent.peers$, (peers) => childPeer(peers) === undefined, 20_000)
  const elapsed = Date.now() - started
  // Default keep-alive detection takes ~17 s; with timeout 2000 it is about 2.5 s.
  expect(elapsed).toBeLessThan(8_000)
})
