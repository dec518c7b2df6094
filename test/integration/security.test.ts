import b4a from 'b4a'
import Corestore from 'corestore'
import { createHarness, Harness, randomTopic, sleep, waitForPeers } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

async function keyOf(store: Corestore): Promise<Buffer> {
  await store.ready()
  return (await store.createKeyPair('@basestore/networker')).publicKey
}

test('allowlist: a key that is not allowed is never connected, replicated or listed in peers$', async () => {
  const storeA = h.store()
  const storeB = h.store()
  const storeC = h.store()
  const [keyB] = await Promise.all([keyOf(storeB)])
  const core = storeA.get({ name: 'secret' })
  await core.ready()
  await core.append(Buffer.from('only for B'))

  const a = h.networker(storeA, { allowlist: [keyB] })
  const b = h.networker(storeB)
  const c = h.networker(storeC)
  const seenByA: string[] = []
  a.peerEvents$.subscribe(({ peer }) => seenByA.push(b4a.toString(peer.remotePublicKey, 'hex')))
  const topic = core.discoveryKey as Buffer
  await a.configure(topic, { announce: true, lookup: true })
  await Promise.all([b.configure(topic), c.configure(topic)])

  const cloneB = storeB.get({ key: core.key as Buffer })
  expect((await cloneB.get(0))?.toString()).toBe('only for B')
  await waitForPeers(a, 1)
  // C keeps trying (relookups run for seconds); A must never admit it.
  await sleep(2500)
  const keyC = c.publicKey?.toString('hex')
  expect(seenByA).not.toContain(keyC)
  const cloneC = storeC.get({ key: core.key as Buffer })
  await cloneC.ready()
  expect(cloneC.length).toBe(0)
  expect(await cloneC.has(0)).toBe(false)
})

test('allowlist with a malformed key throws ERR_INVALID_OPTION', () => {
  for (const allowlist of [['nope'], [Buffer.alloc(5)]]) {
    expect(() => h.networker(h.store(), { allowlist })).toThrow(
      expect.objectContaining({ name: 'NetworkerError', code: 'ERR_INVALID_OPTION' })
    )
  }
})

test('a connection to our own key is refused: two networkers with one key pair never list each other', async () => {
  const store = h.store()
  await store.ready()
  const keyPair = await store.createKeyPair('shared')
  const a = h.networker(h.store(), { keyPair })
  const b = h.networker(h.store(), { keyPair })
  const topic = randomTopic()
  await a.configure(topic)
  await b.configure(topic)
  await sleep(1500)
  expect(a.publicKey?.equals(keyPair.publicKey)).toBe(true)
  let seen = 0
  a.peers$.subscribe((p) => (seen = p.length))
  expect(seen).toBe(0)
})
