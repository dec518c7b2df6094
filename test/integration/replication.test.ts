import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { KEY_PAIR_NAME } from '../../lib/reactive-networker'
import { createHarness, Harness, randomTopic, waitForPeers } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

test('simple replication: A appends hello, B reads it by key', async () => {
  const storeA = h.store()
  const storeB = h.store()
  const core = storeA.get({ name: 'main' })
  await core.ready()
  await core.append(Buffer.from('hello'))

  const a = h.networker(storeA)
  const b = h.networker(storeB)
  await a.configure(core.discoveryKey as Buffer, { announce: true, lookup: false })
  await b.configure(core.discoveryKey as Buffer, { announce: false, lookup: true })

  const clone = storeB.get({ key: core.key as Buffer })
  await clone.ready()
  expect((await clone.get(0))?.toString()).toBe('hello')
  await waitForPeers(a, 1)
})

test('several top-level cores replicate over one connection', async () => {
  const storeA = h.store()
  const storeB = h.store()
  const cores = ['one', 'two', 'three'].map((name) => storeA.get({ name }))
  for (const [i, core] of cores.entries()) {
    await core.ready()
    await core.append([Buffer.from(`core ${i} block 0`), Buffer.from(`core ${i} block 1`)])
  }

  const a = h.networker(storeA)
  const b = h.networker(storeB)
  await a.configure(cores[0].discoveryKey as Buffer, { announce: true, lookup: false })
  await b.configure(cores[0].discoveryKey as Buffer, { announce: false, lookup: true })

  const clones = cores.map((core) => storeB.get({ key: core.key as Buffer }))
  for (const [i, clone] of clones.entries()) {
    await clone.ready()
    expect((await clone.get(1))?.toString()).toBe(`core ${i} block 1`)
    expect((await clone.get(0))?.toString()).toBe(`core ${i} block 0`)
  }
  // One remote key, one connection, on both sides.
  const [peersA, peersB] = await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)])
  expect(peersA).toHaveLength(1)
  expect(peersB).toHaveLength(1)
  expect(b4a.equals(peersB[0].remotePublicKey, a.publicKey as Buffer)).toBe(true)
})

test('one writer and two readers: both readers replicate the writer core', async () => {
  const writerStore = h.store()
  const core = writerStore.get({ name: 'log' })
  await core.ready()
  await core.append([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')])

  const writer = h.networker(writerStore)
  await writer.configure(core.discoveryKey as Buffer, { announce: true, lookup: false })

  const readerStores = [h.store(), h.store()]
  const readers = readerStores.map((store) => h.networker(store))
  await Promise.all(readers.map((r) => r.configure(core.discoveryKey as Buffer, { announce: false, lookup: true })))

  for (const store of readerStores) {
    const clone = store.get({ key: core.key as Buffer })
    await clone.ready()
    const blocks = await Promise.all([0, 1, 2].map((i) => clone.get(i)))
    expect(blocks.map((b) => b?.toString())).toEqual(['a', 'b', 'c'])
  }
  // Later appends reach both readers too.
  await core.append(Buffer.from('d'))
  for (const store of readerStores) {
    const clone = store.get({ key: core.key as Buffer })
    await clone.ready()
    expect((await clone.get(3))?.toString()).toBe('d')
  }
  const writerPeers = await waitForPeers(writer, 2)
  const readerKeys = readers.map((r) => (r.publicKey as Buffer).toString('hex')).sort()
  expect(writerPeers.map((p) => b4a.toString(p.remotePublicKey, 'hex')).sort()).toEqual(readerKeys)
})

test('a custom keyPair is the remotePublicKey the other side sees, and an unconfigured core replicates all-to-all', async () => {
  const keyPair = crypto.keyPair()
  const storeA = h.store()
  const storeB = h.store()
  const first = storeA.get({ name: 'first' })
  const second = storeA.get({ name: 'second' })
  await first.ready()
  await second.ready()
  await first.append(Buffer.from('first core'))
  await second.append(Buffer.from('never announced'))

  const a = h.networker(storeA, { keyPair })
  const b = h.networker(storeB)
  await a.configure(first.discoveryKey as Buffer, { announce: true, lookup: false })
  expect(a.publicKey?.equals(keyPair.publicKey)).toBe(true)
  await b.configure(first.discoveryKey as Buffer, { announce: false, lookup: true })

  const [peer] = await waitForPeers(b, 1)
  expect(b4a.equals(peer.remotePublicKey, keyPair.publicKey)).toBe(true)
  expect(b4a.equals(peer.stream.remotePublicKey, keyPair.publicKey)).toBe(true)

  // `second` was never configured on any topic; the reader gets it by key over the same connection.
  const clone = storeB.get({ key: second.key as Buffer })
  await clone.ready()
  expect((await clone.get(0))?.toString()).toBe('never announced')
  expect(b.status(second.discoveryKey as Buffer)).toBeNull()
  expect(a.status(second.discoveryKey as Buffer)).toBeNull()
})

test('the default key pair is derived from the store and stays the same across restarts', async () => {
  const dir = h.tmpdir()
  const first = h.storeAt(dir)
  const n1 = h.networker(first)
  await n1.listen()
  const key1 = Buffer.from(n1.publicKey as Buffer)
  expect(key1.byteLength).toBe(32)
  const derived = await first.createKeyPair(KEY_PAIR_NAME)
  expect(derived.publicKey.equals(key1)).toBe(true)
  await n1.close()
  await first.close()

  const second = h.storeAt(dir)
  const n2 = h.networker(second)
  await n2.listen()
  expect((n2.publicKey as Buffer).equals(key1)).toBe(true)

  // Another store gets another identity.
  const other = h.networker(h.store())
  await other.listen()
  expect((other.publicKey as Buffer).equals(key1)).toBe(false)

  // And the restarted networker still connects under that identity.
  const topic = randomTopic()
  await n2.configure(topic, { announce: true, lookup: false })
  await other.configure(topic, { announce: false, lookup: true })
  const [peer] = await waitForPeers(other, 1)
  expect(b4a.equals(peer.remotePublicKey, key1)).toBe(true)
})
