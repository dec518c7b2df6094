import b4a from 'b4a'
import { createHarness, Harness, randomTopic, sleep, waitFor } from '../kit'

/** Long enough for Hyperswarm's retries at about 1, 5 and 15 s to run out. */
const KILL_WINDOW_MS = 30_000

/**
 * Repair (issue 13): a pair whose connection keeps dying is reconnected once it can be, even
 * after Hyperswarm gave up on it, and even though both ends still have other peers on the topic.
 */

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

const hex = (key: Uint8Array | null): string => (key === null ? '' : b4a.toString(key, 'hex'))

test('a pair whose connection kept dying for 30 s (Hyperswarm stops dialling it) is reconnected while both still have another peer', async () => {
  const topic = randomTopic()
  const [a, b, c] = [0, 1, 2].map(() => h.networker(h.store(), { relookupBackoff: [500, 1000, 2000] }))
  await Promise.all([a, b, c].map((n) => n.configure(topic)))
  await Promise.all([a, b, c].map((n) => waitFor(n.peers$, (p) => p.length === 2, 30_000)))

  // Every connection between a and b dies at once, for 30 s: Hyperswarm counts each as a
  // failed attempt (it lived under 15 s), retries after about 1, 5 and 15 s, and after the
  // fourth forgets the peer, on both sides.
  const bKey = hex(b.publicKey)
  let killed = 0
  const killer = a.connections$.subscribe(({ type, connection }) => {
    if (type !== 'open' || hex(connection.remotePublicKey) !== bKey) return
    killed++
    connection.destroy()
  })
  a.peers.find((p) => hex(p.remotePublicKey) === bKey)?.stream.destroy()
  await sleep(KILL_WINDOW_MS)
  killer.unsubscribe()

  // Both still have c, so nothing but the repair looks the topic up again.
  const reconnected = Date.now()
  await waitFor(a.peers$, (p) => p.some((peer) => hex(peer.remotePublicKey) === bKey), 20_000)
  await waitFor(b.peers$, (p) => p.some((peer) => hex(peer.remotePublicKey) === hex(a.publicKey)), 20_000)
  console.log(JSON.stringify({ scenario: 'repair', kills: killed, reconnectedAfterMs: Date.now() - reconnected }))
  expect(killed).toBeGreaterThanOrEqual(2)
  expect(a.peers.map((p) => hex(p.remotePublicKey)).sort()).toEqual([bKey, hex(c.publicKey)].sort())
})

test('a key refused by onauthenticate is banned: reported once, never connected again, while the other peers stay', async () => {
  const topic = randomTopic()
  const refused: string[] = []
  const a = h.networker(h.store(), { relookupBackoff: [500, 1000, 2000] })
  const c = h.networker(h.store(), { relookupBackoff: [500, 1000, 2000] })
  const b = h.networker(h.store(), {
    relookupBackoff: [500, 1000, 2000],
    onauthenticate: (key, done) => {
      if (b4a.equals(key, a.publicKey as Buffer)) {
        refused.push(hex(key))
        done(new Error('not welcome'))
      } else done()
    }
  })
  const codes: string[] = []
  b.errors$.subscribe((err) => codes.push(err.code))
  let opensFromA = 0
  b.connections$.subscribe(({ type, connection }) => {
    if (type === 'open' && hex(connection.remotePublicKey) === hex(a.publicKey)) opensFromA++
  })
  await Promise.all([a, b, c].map((n) => n.configure(topic)))
  await waitFor(b.peers$, (p) => p.length === 1 && hex(p[0].remotePublicKey) === hex(c.publicKey), 30_000)
  await waitFor(a.peers$, (p) => p.length === 1, 30_000)
  // Several repair rounds of a (it still finds b): none reaches b as a connection.
  await sleep(6000)
  expect(opensFromA).toBe(1)
  expect(refused).toHaveLength(1)
  expect(codes.filter((code) => code === 'ERR_AUTHENTICATION')).toHaveLength(1)
  expect(b.peers.map((p) => hex(p.remotePublicKey))).toEqual([hex(c.publicKey)])
})
