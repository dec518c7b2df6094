/**
 * The behaviours the 14 tests of `@corestore/networker` 1.2.1 check, written here against the
 * facade exactly as an old caller calls it (default `configure`, `networker.keyPair`,
 * `networker.streams`, events, the three `registerExtension` forms). Only what Corestore 7 forces
 * differs from 1.x callers: `store.get({ name })`, async `append`/`get`, a directory per store, a
 * loopback DHT, ed25519 key pairs. Then the scenarios Hyperspace relied on.
 */
import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import type Corestore from 'corestore'
import { Networker } from '../../lib/facade'
import type { LegacyNetworkerOptions } from '../../lib/legacy'
import { NetworkerError } from '../../lib/errors'
import { ReactiveNetworker } from '../../lib/reactive-networker'
import type { Peer, PeerStream } from '../../lib/peer'
import { createHarness, Harness, randomTopic, spawnFixture, until, watchWarnings } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

/** What the old tests' `create()` gave: a ready store and a facade on it. */
async function create(opts: LegacyNetworkerOptions = {}): Promise<{ store: Corestore; networker: Networker }> {
  const store = h.store()
  await store.ready()
  const networker = new Networker(store, { ...h.net.swarmOptions(), ...opts })
  h.onCleanup(() => networker.close())
  return { store, networker }
}

/** The public key a facade shows, read where old tests read it (it must be there by then). */
function publicKeyOf(networker: Networker): Buffer {
  const keyPair = networker.keyPair
  if (keyPair === null) throw new Error('networker.keyPair is not there yet')
  return keyPair.publicKey
}

/** Resolves on the first emission of `event`. */
function once<T extends unknown[]>(emitter: Networker, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as T)))
}


const hex = (key: Uint8Array): string => b4a.toString(key, 'hex')

// ---------------------------------------------------------------------------------------------
// The 14 behaviours of the 1.2.1 suite
// ---------------------------------------------------------------------------------------------

test('1. simple replication: A writes hello, B reads it by key, both with a default configure', async () => {
  const { store: store1, networker: networker1 } = await create()
  const { store: store2, networker: networker2 } = await create()
  const core1 = store1.get({ name: 'core' })
  await core1.ready()
  const core2 = store2.get({ key: core1.key as Buffer })
  await core2.ready()

  await networker1.configure((core1.discoveryKey as Buffer))
  await networker2.configure((core2.discoveryKey as Buffer))

  await core1.append(Buffer.from('hello'))
  expect(await core2.get(0)).toEqual(Buffer.from('hello'))
})

test('2. two top-level cores replicate over one connection', async () => {
  const { store: store1, networker: networker1 } = await create()
  const { store: store2, networker: networker2 } = await create()
  const core1 = store1.get({ name: 'one' })
  const core2 = store1.get({ name: 'two' })
  await Promise.all([core1.ready(), core2.ready()])
  const core3 = store2.get({ key: core1.key as Buffer })
  const core4 = store2.get({ key: core2.key as Buffer })
  await Promise.all([core3.ready(), core4.ready()])

  await networker1.configure((core1.discoveryKey as Buffer))
  await networker1.configure((core2.discoveryKey as Buffer))
  await networker2.configure((core2.discoveryKey as Buffer))
  await networker2.configure((core3.discoveryKey as Buffer))

  await core1.append(Buffer.from('hello'))
  await core2.append(Buffer.from('world'))
  expect(await core3.get(0)).toEqual(Buffer.from('hello'))
  expect(await core4.get(0)).toEqual(Buffer.from('world'))
  expect(networker1.peers.size).toBe(1)
  expect(networker2.peers.size).toBe(1)
})

test('3. one writer, two readers', async () => {
  const { store: store1, networker: networker1 } = await create()
  const { store: store2, networker: networker2 } = await create()
  const { store: store3, networker: networker3 } = await create()
  const core1 = store1.get({ name: 'core' })
  await core1.ready()
  const core2 = store2.get({ key: core1.key as Buffer })
  const core3 = store3.get({ key: core1.key as Buffer })

  await networker1.configure((core1.discoveryKey as Buffer))
  await networker2.configure((core2.discoveryKey as Buffer))
  await networker3.configure((core3.discoveryKey as Buffer))

  await core1.append(Buffer.from('hello'))
  expect(await core2.get(0)).toEqual(Buffer.from('hello'))
  expect(await core3.get(0)).toEqual(Buffer.from('hello'))
})

/**
 * Behaviours 4 and 5: the first core is configured on both sides, a second core is opened (and
 * never configured) after that; both replicate over the one connection.
 */
async function configuredAndUnconfiguredCoresReplicate(
  first: { store: Corestore; networker: Networker },
  second: { store: Corestore; networker: Networker },
  laterName: string
): Promise<void> {
  const core1 = first.store.get({ name: 'core' })
  await core1.ready()
  const core3 = second.store.get({ key: core1.key as Buffer })
  await first.networker.configure(core1.discoveryKey as Buffer)
  await second.networker.configure(core3.discoveryKey as Buffer)

  const core2 = first.store.get({ name: laterName })
  await core2.ready()
  const core4 = second.store.get({ key: core2.key as Buffer })
  await core1.append(Buffer.from('hello'))
  await core2.append(Buffer.from('world'))
  expect(await core3.get(0)).toEqual(Buffer.from('hello'))
  expect(await core4.get(0)).toEqual(Buffer.from('world'))
}

test('4. a core opened after configure and never configured still replicates (Corestore 7 has no sub-cores: all-to-all)', async () => {
  await configuredAndUnconfiguredCoresReplicate(await create(), await create(), 'opened later')
})

test('5. a custom keyPair is what networker.keyPair shows at once and what the stream shows on both ends; an unconfigured second core replicates', async () => {
  const keyPair1 = crypto.keyPair()
  const keyPair2 = crypto.keyPair()
  const { store: store1, networker: networker1 } = await create({ keyPair: keyPair1 })
  const { store: store2, networker: networker2 } = await create({ keyPair: keyPair2 })
  expect(networker1.keyPair?.publicKey).toEqual(keyPair1.publicKey)
  expect(networker2.keyPair?.publicKey).toEqual(keyPair2.publicKey)

  await configuredAndUnconfiguredCoresReplicate({ store: store1, networker: networker1 }, { store: store2, networker: networker2 }, 'second')

  const [stream1] = [...networker1.streams]
  expect(b4a.equals(stream1.remotePublicKey, keyPair2.publicKey)).toBe(true)
  expect(b4a.equals(stream1.publicKey, keyPair1.publicKey)).toBe(true)
  const [stream2] = [...networker2.streams]
  expect(b4a.equals(stream2.remotePublicKey, keyPair1.publicKey)).toBe(true)
  expect(b4a.equals(stream2.publicKey, keyPair2.publicKey)).toBe(true)
})

test("6. 'flushed' fires once per networker and key, and only when core.peers already holds the connected peers", async () => {
  const { store: store1, networker: networker1 } = await create()
  const { store: store2, networker: networker2 } = await create()
  const { store: store3, networker: networker3 } = await create()
  const core1 = store1.get({ name: 'core' })
  await core1.ready()
  const core2 = store2.get({ key: core1.key as Buffer })
  await core2.ready()
  await core1.append(Buffer.from('hello'))

  const seen2: number[] = []
  const seen3: number[] = []
  await networker1.configure((core1.discoveryKey as Buffer))
  networker2.on('flushed', (dkey: Buffer) => {
    if (b4a.equals(dkey, (core1.discoveryKey as Buffer))) seen2.push(core2.peers.length)
  })
  await networker2.configure((core1.discoveryKey as Buffer))

  const core3 = store3.get({ key: core1.key as Buffer })
  await core3.ready()
  const flushed3 = new Promise<void>((resolve) => {
    networker3.on('flushed', (dkey: Buffer) => {
      if (!b4a.equals(dkey, (core1.discoveryKey as Buffer))) return
      seen3.push(core3.peers.length)
      resolve()
    })
  })
  void networker3.configure((core1.discoveryKey as Buffer))
  await flushed3
  // A later configure of another key is a point after which a second 'flushed' would have come.
  await networker2.configure(randomTopic())
  await networker3.configure(randomTopic())

  expect(seen2).toHaveLength(1)
  expect(seen2[0]).toBeGreaterThanOrEqual(1)
  expect(seen3).toHaveLength(1)
  expect(seen3[0]).toBeGreaterThanOrEqual(2)
})

test('7. close() twice on a networker that never opened', async () => {
  const { networker } = await create()
  await networker.close()
  await networker.close()
  expect(networker.closed).toBe(true)
  expect(networker.opened).toBe(false)
})

test('8. peer-add and peer-remove in order (one announcer, two lookup-only peers), peers.size after each, keys through networker.keyPair', async () => {
  const { networker: networker1 } = await create()
  const { networker: networker2 } = await create()
  const { networker: networker3 } = await create()
  const livePeers = networker1.peers
  const dkey = randomTopic()
  await networker1.configure(dkey)

  const events: Array<{ type: string; fromKey: string; size: number }> = []
  networker1.on('peer-add', (peer: Peer) => events.push({ type: 'add', fromKey: hex(peer.remotePublicKey), size: networker1.peers.size }))
  networker1.on('peer-remove', (peer: Peer) =>
    events.push({ type: 'remove', fromKey: hex(peer.remotePublicKey), size: networker1.peers.size })
  )

  await networker2.configure(dkey, { announce: false, lookup: true, flush: true })
  await until(() => events.length === 1, 20_000, 'the first peer-add')
  await networker3.configure(dkey, { announce: false, lookup: true, flush: true })
  await until(() => events.length === 2, 20_000, 'the second peer-add')
  await networker2.close()
  await until(() => events.length === 3, 20_000, 'the first peer-remove')
  await networker3.close()
  await until(() => events.length === 4, 20_000, 'the second peer-remove')

  const key2 = hex(publicKeyOf(networker2))
  const key3 = hex(publicKeyOf(networker3))
  expect(events).toEqual([
    { type: 'add', fromKey: key2, size: 1 },
    { type: 'add', fromKey: key3, size: 2 },
    { type: 'remove', fromKey: key2, size: 1 },
    { type: 'remove', fromKey: key3, size: 0 }
  ])
  // The Set read at the start is the one that changed.
  expect(networker1.peers).toBe(livePeers)
  expect(livePeers.size).toBe(0)
})

/**
 * The old extension tests' shape: networker1 announces, networker2 and networker3 look up and
 * send from inside `peer-add`; networker1 receives both, in order, each from the right key.
 */
async function extensionRound<T>(
  register: (networker: Networker, onmessage: (message: T, from: Peer) => void) => { send(message: T, peer: Peer): boolean },
  messages: [T, T]
): Promise<void> {
  const { networker: networker1 } = await create()
  const { networker: networker2 } = await create()
  const { networker: networker3 } = await create()
  const received: Array<{ message: T; fromKey: string }> = []
  const onmessage = (message: T, from: Peer): void => {
    received.push({ message, fromKey: hex(from.remotePublicKey) })
  }
  register(networker1, onmessage)
  const n2Ext = register(networker2, onmessage)
  const n3Ext = register(networker3, onmessage)
  const keysInHandler: Array<Buffer | undefined> = []
  networker2.on('peer-add', (peer: Peer) => {
    keysInHandler.push(networker2.keyPair?.publicKey)
    n2Ext.send(messages[0], peer)
  })
  networker3.on('peer-add', (peer: Peer) => {
    keysInHandler.push(networker3.keyPair?.publicKey)
    n3Ext.send(messages[1], peer)
  })
  const dkey = randomTopic()
  await networker1.configure(dkey)
  await networker2.configure(dkey, { announce: false, lookup: true, flush: true })
  await until(() => received.length === 1, 20_000, 'the first message')
  await networker3.configure(dkey, { announce: false, lookup: true, flush: true })
  await until(() => received.length === 2, 20_000, 'the second message')

  expect(received).toEqual([
    { message: messages[0], fromKey: hex(publicKeyOf(networker2)) },
    { message: messages[1], fromKey: hex(publicKeyOf(networker3)) }
  ])
  expect(keysInHandler.every((key) => key !== undefined)).toBe(true)
  // Lookup-only peers never connect to each other.
  expect(networker2.peers.size).toBe(1)
  expect(networker3.peers.size).toBe(1)
}

test('9. a stream-wide utf-8 extension: two peers send from inside peer-add, the announcer receives both in order from the right keys', async () => {
  await extensionRound<string>(
    (networker, onmessage) => networker.registerExtension<string>({ name: 'test-extension', encoding: 'utf8', onmessage }),
    ['hello', 'world']
  )
})

test('10. one name registered twice: each message is delivered once', async () => {
  const { networker: networker1 } = await create()
  const { networker: networker2 } = await create()
  const received: string[] = []
  const onmessage = (message: string): void => {
    received.push(message)
  }
  networker1.registerExtension<string>({ name: 'test-extension', encoding: 'utf8', onmessage })
  networker1.registerExtension<string>({ name: 'test-extension', encoding: 'utf8', onmessage })
  const n2Ext = networker2.registerExtension<string>({ name: 'test-extension', encoding: 'utf8', onmessage })
  networker2.on('peer-add', (peer: Peer) => {
    n2Ext.send('hello', peer)
    n2Ext.send('last', peer)
  })
  const dkey = randomTopic()
  await networker1.configure(dkey)
  await networker2.configure(dkey, { announce: false, lookup: true, flush: true })
  // Messages on one channel arrive in order: once 'last' is there, any duplicate of 'hello' is too.
  await until(() => received.includes('last'), 20_000, 'the last message')
  expect(received).toEqual(['hello', 'last'])
})

test('11. the function form of registerExtension', async () => {
  await extensionRound<string>(
    (networker, onmessage) => networker.registerExtension<string>('test-extension', () => ({ encoding: 'utf8' as const, onmessage })),
    ['hello', 'world']
  )
})

test('12. json encoding', async () => {
  await extensionRound<{ message: string }>(
    (networker, onmessage) => networker.registerExtension<{ message: string }>({ name: 'test-extension', encoding: 'json', onmessage }),
    [{ message: 'hello' }, { message: 'world' }]
  )
})

test('13. a reply with ext.send(reply, from) to the peer handed to onmessage', async () => {
  const { networker: networker1 } = await create()
  const { networker: networker2 } = await create()
  const atOne: Array<{ message: string; fromKey: string }> = []
  const atTwo: Array<{ message: string; fromKey: string }> = []
  const ext1 = networker1.registerExtension<string>({
    name: 'test-extension',
    encoding: 'utf8',
    onmessage: (message, from) => {
      atOne.push({ message, fromKey: hex(from.remotePublicKey) })
      ext1.send('world', from)
    }
  })
  const ext2 = networker2.registerExtension<string>({
    name: 'test-extension',
    encoding: 'utf8',
    onmessage: (message, from) => atTwo.push({ message, fromKey: hex(from.remotePublicKey) })
  })
  networker2.on('peer-add', (peer: Peer) => ext2.send('hello', peer))
  const dkey = randomTopic()
  await networker1.configure(dkey)
  await networker2.configure(dkey, { announce: false, lookup: true, flush: true })
  await until(() => atTwo.length === 1, 20_000, 'the reply')
  expect(atOne).toEqual([{ message: 'hello', fromKey: hex(publicKeyOf(networker2)) }])
  expect(atTwo).toEqual([{ message: 'world', fromKey: hex(publicKeyOf(networker1)) }])
})

test("14. onauthenticate is called with the remote's key (per connection before dedup: once per peer unless Hyperswarm had to resolve a duplicate)", async () => {
  const calls: Buffer[] = []
  const { networker: networker1 } = await create({
    onauthenticate: (remotePublicKey, done) => {
      calls.push(remotePublicKey)
      done()
    }
  })
  const { networker: networker2 } = await create()
  const added = once<[Peer]>(networker1, 'peer-add')
  const dkey = randomTopic()
  await networker1.configure(dkey)
  await networker2.configure(dkey)
  const [peer] = await added

  const key2 = publicKeyOf(networker2)
  expect(calls.length).toBeGreaterThanOrEqual(1)
  for (const key of calls) expect(b4a.equals(key, key2)).toBe(true)
  expect(b4a.equals(peer.remotePublicKey, key2)).toBe(true)
  expect(networker1.peers.size).toBe(1)
})

// ---------------------------------------------------------------------------------------------
// Members and events of 1.2.1
// ---------------------------------------------------------------------------------------------

test('keyPair: the store-derived one appears without any call, is the key peers see, and is stable for the store', async () => {
  const { store, networker } = await create()
  await until(() => networker.keyPair !== null, 20_000, 'the derived key pair')
  const derived = networker.keyPair as { publicKey: Buffer; secretKey: Buffer }
  expect(derived.publicKey).toHaveLength(32)
  expect(derived.secretKey).toHaveLength(64)
  const { networker: other } = await create()
  const added = once<[Peer]>(other, 'peer-add')
  const dkey = randomTopic()
  await networker.configure(dkey)
  await other.configure(dkey)
  const [peer] = await added
  expect(b4a.equals(peer.remotePublicKey, derived.publicKey)).toBe(true)
  // Same store, same key (as Hyperspace's identity across restarts).
  await networker.close()
  const again = new Networker(store, h.net.swarmOptions())
  h.onCleanup(() => again.close())
  await again.open()
  expect(b4a.equals(publicKeyOf(again), derived.publicKey)).toBe(true)
})

test('open(), opened, closing, closed and swarm follow the old base class', async () => {
  const { networker } = await create()
  expect(networker.opened).toBe(false)
  expect(networker.closed).toBe(false)
  expect(networker.swarm).toBeNull()
  await networker.open()
  expect(networker.opened).toBe(true)
  expect(networker.swarm).not.toBeNull()
  expect(b4a.equals(networker.swarm?.keyPair.publicKey as Uint8Array, publicKeyOf(networker))).toBe(true)
  const closing = networker.close()
  expect(networker.closing).toBe(true)
  await closing
  expect(networker.closing).toBe(false)
  expect(networker.closed).toBe(true)
  expect(networker.opened).toBe(true)
})

test('stream-opened, handshake and stream-closed carry the stream; streams is a live Set of the peers’ streams', async () => {
  const { networker: networker1 } = await create()
  const { networker: networker2 } = await create()
  const order: string[] = []
  const opened: PeerStream[] = []
  const closed: Array<{ stream: PeerStream; finished: boolean }> = []
  let handshaken: PeerStream | null = null
  const liveStreams = networker1.streams
  networker1.on('stream-opened', (stream: PeerStream, info: { client: boolean }) => {
    order.push('stream-opened')
    opened.push(stream)
    expect(typeof info.client).toBe('boolean')
  })
  networker1.on('peer-add', () => order.push('peer-add'))
  networker1.on('handshake', (stream: PeerStream) => {
    order.push('handshake')
    handshaken = stream
  })
  networker1.on('stream-closed', (stream: PeerStream, _info: unknown, finished: boolean) => closed.push({ stream, finished }))
  const dkey = randomTopic()
  await networker1.configure(dkey)
  await networker2.configure(dkey, { announce: false, lookup: true })
  await until(() => handshaken !== null, 20_000, 'the handshake event')
  expect(order.slice(0, 3)).toEqual(['stream-opened', 'peer-add', 'handshake'])
  const [peer] = [...networker1.peers]
  expect(handshaken).toBe(peer.stream)
  expect(opened).toContain(peer.stream)
  expect([...liveStreams]).toEqual([peer.stream])

  await networker2.close()
  await until(() => closed.some((c) => c.stream === peer.stream), 20_000, 'stream-closed')
  expect(closed.find((c) => c.stream === peer.stream)?.finished).toBe(true)
  await until(() => liveStreams.size === 0, 20_000, 'the stream to leave streams')
  expect(networker1.streams).toBe(liveStreams)
})

test("replication-error: replication that cannot start is reported as 'replication-error', not 'error'", async () => {
  const { store, networker } = await create()
  const { networker: other } = await create()
  const replicationErrors: unknown[] = []
  const plainErrors: unknown[] = []
  networker.on('replication-error', (err: unknown) => replicationErrors.push(err))
  networker.on('error', (err: unknown) => plainErrors.push(err))
  const dkey = randomTopic()
  await networker.configure(dkey, { announce: true, lookup: false })
  await store.close()
  await other.configure(dkey, { announce: false, lookup: true })
  await until(() => replicationErrors.length > 0, 20_000, 'the replication error')
  expect((replicationErrors[0] as NetworkerError).code).toBe('ERR_REPLICATION')
  expect(plainErrors.filter((e) => (e as NetworkerError).code === 'ERR_REPLICATION')).toEqual([])
})

test('an X25519 key pair (hypercore-protocol 8) and the hyperswarm-2 swarm option throw ERR_UNSUPPORTED, saying why', async () => {
  const store = h.store()
  const x25519 = { publicKey: Buffer.alloc(32, 1), secretKey: Buffer.alloc(32, 2) }
  // The constructor throws, so nothing takes over the DHT node: destroy it here (it would keep
  // the worker alive).
  const options = h.net.swarmOptions()
  try {
    expect(() => new Networker(store, { ...options, keyPair: x25519 })).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED', message: expect.stringContaining('ed25519') })
    )
  } finally {
    await options.dht.destroy()
  }
  expect(() => new Networker(store, { swarm: {} })).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED' }))
})

// ---------------------------------------------------------------------------------------------
// configure as 1.x: the promise, rejoin, status, remember, coercion
// ---------------------------------------------------------------------------------------------

test('configure returns the promise with a callback too, and calls the callback', async () => {
  const { networker } = await create()
  const dkey = randomTopic()
  let calledWith: Error | null | undefined
  const returned = networker.configure(dkey, { announce: true, lookup: false }, (err) => {
    calledWith = err
  })
  expect(returned).toBeInstanceOf(Promise)
  await returned
  await until(() => calledWith !== undefined, 20_000, 'the callback')
  expect(calledWith).toBeNull()
})

test("rejoin: false with the flags in force does not run discovery again (one 'flushed'); without it, it does", async () => {
  const { networker } = await create()
  const dkey = randomTopic()
  let flushes = 0
  networker.on('flushed', () => flushes++)
  await networker.configure(dkey, { announce: true, lookup: false })
  expect(flushes).toBe(1)
  await networker.configure(dkey, { announce: true, lookup: false, rejoin: false })
  expect(flushes).toBe(1)
  expect(networker.flushed(dkey)).toBe(true)
  await networker.configure(dkey, { announce: true, lookup: false })
  expect(flushes).toBe(2)
})

test('status after configure and leave: the options the caller passed, remember as a label; non-booleans coerced as 1.x did', async () => {
  const { store, networker } = await create()
  const dkey = randomTopic()
  await networker.configure(dkey, { announce: true, lookup: false, remember: true, flush: true, app: 'drive' })
  expect(networker.status(dkey)).toEqual({
    discoveryKey: dkey,
    announce: true,
    lookup: false,
    remember: true,
    flush: true,
    app: 'drive'
  })
  expect(networker.status(hex(dkey))).toEqual(networker.status(dkey))
  expect(networker.allStatuses()).toEqual([networker.status(dkey)])

  const coerced = randomTopic()
  await networker.configure(coerced, { announce: 0 as unknown as boolean, lookup: false, flush: 'yes' as unknown as boolean })
  expect(networker.status(coerced)).toMatchObject({ announce: true, lookup: false })

  await networker.configure(dkey, { announce: false, lookup: false })
  await networker.configure(coerced, { announce: false, lookup: false })
  expect(networker.status(dkey)).toBeUndefined()
  expect(networker.allStatuses()).toEqual([])

  // remember was a label: nothing was stored, a new networker on the store restores nothing.
  await networker.close()
  const again = new Networker(store, h.net.swarmOptions())
  h.onCleanup(() => again.close())
  await again.listen()
  expect(again.allStatuses()).toEqual([])
})

test('persistRemembered: remember: true is stored in the Corestore and restored by the next networker, as ReactiveNetworker does', async () => {
  const { store, networker } = await create({ persistRemembered: true })
  const dkey = randomTopic()
  await networker.configure(dkey, { announce: true, lookup: false, remember: true })
  await networker.close()
  const again = new Networker(store, { ...h.net.swarmOptions(), persistRemembered: true })
  h.onCleanup(() => again.close())
  await again.listen()
  await until(() => again.status(dkey) !== undefined, 20_000, 'the restore')
  expect(again.status(dkey)).toMatchObject({ announce: true, lookup: false, remember: true })
})

// ---------------------------------------------------------------------------------------------
// No silent caller bugs
// ---------------------------------------------------------------------------------------------

test('a throwing onmessage with no error listener is a process warning (once), and the next message is still delivered', async () => {
  const watch = watchWarnings()
  try {
    const { networker: networker1 } = await create()
    const { networker: networker2 } = await create()
    const got: string[] = []
    networker1.registerExtension<string>('buggy', {
      encoding: 'utf-8',
      onmessage: (message) => {
        got.push(message)
        if (message.startsWith('boom')) throw new Error('caller bug')
      }
    })
    const ext2 = networker2.registerExtension<string>('buggy', { encoding: 'utf-8' })
    networker2.on('peer-add', (peer: Peer) => {
      ext2.send('boom 1', peer)
      ext2.send('boom 2', peer)
      ext2.send('fine', peer)
    })
    const dkey = randomTopic()
    await networker1.configure(dkey)
    await networker2.configure(dkey, { announce: false, lookup: true })
    await until(() => got.includes('fine'), 20_000, 'the message after the throws')
    await until(() => watch.warnings.length > 0, 20_000, 'the warning')
    const handlerWarnings = watch.warnings.filter((w) => w.code === 'ERR_HANDLER')
    expect(handlerWarnings).toHaveLength(1)
    expect(handlerWarnings[0].message).toContain('buggy')
  } finally {
    watch.stop()
  }
})

test('a throwing onauthenticate refuses the connection and is a process warning, not only an unheard error', async () => {
  const watch = watchWarnings()
  try {
    const { networker: gate } = await create({
      onauthenticate: () => {
        throw new Error('caller bug in onauthenticate')
      }
    })
    const { networker: other } = await create()
    const dkey = randomTopic()
    await gate.configure(dkey, { announce: true, lookup: false })
    await other.configure(dkey, { announce: false, lookup: true })
    await until(() => watch.warnings.some((w) => w.message.includes('onauthenticate')), 20_000, 'the warning')
    expect(gate.peers.size).toBe(0)
  } finally {
    watch.stop()
  }
})

test('a throwing peer-add listener is surfaced and the networker carries on', async () => {
  const { networker: networker1 } = await create()
  const { networker: networker2 } = await create()
  const errs: NetworkerError[] = []
  networker1.on('error', (err: NetworkerError) => errs.push(err))
  networker1.on('peer-add', () => {
    throw new Error('listener bug')
  })
  const dkey = randomTopic()
  await networker1.configure(dkey)
  await networker2.configure(dkey, { announce: false, lookup: true })
  await until(() => errs.length > 0, 20_000, 'the error')
  expect(errs[0].code).toBe('ERR_HANDLER')
  expect(networker1.peers.size).toBe(1)
})

/**
 * The Hyperspace scenarios' start: a writer store whose core holds `blocks` and is announced by
 * `announce`, and the reader store's copy of that core opened by key (not yet configured).
 */
async function announcedCopy(
  writerStore: Corestore,
  readerStore: Corestore,
  announce: (discoveryKey: Buffer) => Promise<unknown>,
  blocks: Buffer[]
): Promise<Corestore.Hypercore> {
  const core = writerStore.get({ name: 'core' })
  await core.ready()
  await core.append(blocks)
  await announce(core.discoveryKey as Buffer)
  const copy = readerStore.get({ key: core.key as Buffer })
  await copy.ready()
  return copy
}

// ---------------------------------------------------------------------------------------------
// Hyperspace-style scenarios
// ---------------------------------------------------------------------------------------------

test('Hyperspace: once configure calls back (flushed), core.peers holds the peer: "flushed && no peers" means nobody has the core', async () => {
  const { store: writerStore, networker: writer } = await create()
  const { store: readerStore, networker: reader } = await create()
  const copy = await announcedCopy(writerStore, readerStore, (key) => writer.configure(key, { announce: true, lookup: false }), [Buffer.from('block')])
  const peersAtCallback = await new Promise<number>((resolve, reject) =>
    reader.configure((copy.discoveryKey as Buffer), { announce: false, lookup: true }, (err) => (err ? reject(err) : resolve(copy.peers.length)))
  )
  expect(peersAtCallback).toBe(1)
  expect(reader.flushed((copy.discoveryKey as Buffer))).toBe(true)

  // And a key nobody has: flushed with no peers.
  const lonely = readerStore.get({ name: 'nobody else has this' })
  await lonely.ready()
  await reader.configure((lonely.discoveryKey as Buffer), { announce: false, lookup: true })
  expect(lonely.peers.length).toBe(0)
})

test('Hyperspace (reactive API): await configure, then core.peers holds the peer', async () => {
  const writerStore = h.store()
  const readerStore = h.store()
  const writer = h.networker(writerStore)
  const reader: ReactiveNetworker = h.networker(readerStore)
  const copy = await announcedCopy(writerStore, readerStore, (key) => writer.configure(key, { announce: true, lookup: false }), [Buffer.from('block')])
  const state = await reader.configure((copy.discoveryKey as Buffer), { announce: false, lookup: true })
  expect(state.flushed).toBe(true)
  expect(copy.peers.length).toBe(1)
})

test('Hyperspace: core.update() on a freshly opened core waits for the first discovery (findingPeers) instead of answering "no peers"', async () => {
  const { store: writerStore, networker: writer } = await create()
  const { store: readerStore, networker: reader } = await create()
  const copy = await announcedCopy(
    writerStore,
    readerStore,
    (key) => writer.configure(key, { announce: true, lookup: false }),
    [Buffer.from('a'), Buffer.from('b')]
  )
  void reader.configure((copy.discoveryKey as Buffer), { announce: false, lookup: true })
  const updated = await copy.update()
  expect(updated).toBe(true)
  expect(copy.length).toBe(2)
})

test('Hyperspace: a json extension replying inside onmessage (request/response)', async () => {
  type Request = { id: number; op: 'sum'; args: number[] }
  type Response = { id: number; result: number }
  const { networker: server } = await create()
  const { networker: client } = await create()
  const serverExt = server.registerExtension<Request | Response>('rpc', (ext) => ({
    encoding: 'json',
    onmessage: (message, from) => {
      if ('op' in message) ext.send({ id: message.id, result: message.args.reduce((a, b) => a + b, 0) }, from)
    }
  }))
  expect(serverExt.encoding.name).toBe('json')
  const responses: Response[] = []
  const clientExt = client.registerExtension<Request | Response>('rpc', {
    encoding: 'json',
    onmessage: (message) => {
      if ('result' in message) responses.push(message)
    }
  })
  client.on('peer-add', (peer: Peer) => {
    clientExt.send({ id: 1, op: 'sum', args: [1, 2, 3] }, peer)
    clientExt.send({ id: 2, op: 'sum', args: [40, 2] }, peer)
  })
  const dkey = randomTopic()
  await server.configure(dkey, { announce: true, lookup: false })
  await client.configure(dkey, { announce: false, lookup: true })
  await until(() => responses.length === 2, 20_000, 'both responses')
  expect(responses).toEqual([
    { id: 1, result: 6 },
    { id: 2, result: 42 }
  ])
  // ext.encoding is a codec, as `codecs` gave 1.x callers.
  expect(clientExt.encoding.decode(clientExt.encoding.encode({ id: 3, result: 1 }))).toEqual({ id: 3, result: 1 })
})

test('Hyperspace: close while configure is in flight: unawaited calls never crash, awaited ones reject ERR_CLOSED, callbacks get it', async () => {
  const unhandled: unknown[] = []
  const onunhandled = (reason: unknown): void => {
    unhandled.push(reason)
  }
  process.on('unhandledRejection', onunhandled)
  try {
    const { networker } = await create()
    const awaited = networker.configure(randomTopic())
    void networker.configure(randomTopic())
    const viaCallback = new Promise<Error | null>((resolve) => networker.configure(randomTopic(), {}, (err) => resolve(err)))
    await networker.close()
    await expect(awaited).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    expect(await viaCallback).toMatchObject({ code: 'ERR_CLOSED' })
    void networker.configure(randomTopic())
    // Let any unhandled rejection surface (Node reports them after the microtask queue drains).
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(unhandled).toEqual([])
  } finally {
    process.off('unhandledRejection', onunhandled)
  }
})

test("the old README's usage block, run in its own process, exits cleanly", async () => {
  const fixture = spawnFixture(h, 'legacy-readme.ts', [JSON.stringify(h.net.bootstrap), h.tmpdir()])
  let stderr = ''
  fixture.child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => fixture.child.once('exit', (exitCode) => resolve(exitCode)))
  expect(stderr).not.toMatch(/Unhandled|ERR_CLOSED/)
  expect(code).toBe(0)
  expect(fixture.lines).toEqual([{ closed: true, networkerClosed: true }])
})
