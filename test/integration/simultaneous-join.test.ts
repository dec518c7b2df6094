/**
 * Two peers that join a fresh topic at the same instant both finish their first lookup before
 * either announce is stored. They must still meet at once, not at the first relookup timer: the
 * relookup timers here are a minute long, so only the look-again-after-announcing path can connect
 * them within the test's time.
 */
import { createHarness, Harness, randomTopic, waitForPeers } from '../kit'

let h: Harness

beforeEach(async () => {
  h = await createHarness()
})

afterEach(async () => {
  await h.cleanup()
})

it('two peers joining a fresh topic at the same instant meet without waiting for a relookup timer (5 rounds)', async () => {
  for (let round = 0; round < 5; round++) {
    const topic = randomTopic()
    const [a, b] = [0, 1].map(() => h.networker(undefined, { relookupBackoff: [60_000] }))
    await Promise.all([a.listen(), b.listen()])
    await Promise.all([a.configure(topic), b.configure(topic)])
    await Promise.all([waitForPeers(a, 1, 15_000), waitForPeers(b, 1, 15_000)])
    await Promise.all([a.close(), b.close()])
  }
})
