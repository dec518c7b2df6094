import { createHarness, Harness, waitForPeers } from '../helpers'

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
