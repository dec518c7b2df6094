import b4a from 'b4a'
import { createHarness, Fixture, Harness, spawnFixture, until, waitFor } from '../kit'

const TIMEOUT = 2000

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

function startReader(keyHex: string, dir: string, expected: number): Fixture {
  return spawnFixture(h, 'reader-peer.ts', [JSON.stringify(h.net.bootstrap), keyHex, dir, String(TIMEOUT), String(expected)])
}

const field = (reader: Fixture, name: string): unknown => reader.lines.find((l) => name in l)?.[name]

test('a SIGKILLed peer is dropped within the timeout, its channels close; restarted on the same store it is re-added and replication resumes where it stopped, every block verified', async () => {
  const store = h.store()
  const core = store.get({ name: 'killed' })
  await core.ready()
  await core.append(Array.from({ length: 150 }, (_, i) => Buffer.from(`block ${i}`)))
  const writer = h.networker(store, { timeout: TIMEOUT })
  const chat = writer.registerExtension('chat', { encoding: 'utf-8' })
  const keyHex = (core.key as Buffer).toString('hex')
  const dir = h.tmpdir()

  // First life: download the first 150 blocks.
  const first = startReader(keyHex, dir, 150)
  await until(() => typeof field(first, 'publicKey') === 'string', 30_000, 'the reader to announce')
  await writer.configure(core.discoveryKey as Buffer, { announce: false, lookup: true })
  const [peer] = await waitFor(writer.peers$, (peers) => peers.length === 1, 30_000)
  await until(() => field(first, 'verified') === 150, 30_000, 'the first 150 blocks')
  expect(chat.send('hello', peer)).toBe(true)

  // Kill it without a goodbye.
  const killedAt = Date.now()
  first.child.kill('SIGKILL')
  await waitFor(writer.peers$, (peers) => peers.length === 0, 15_000)
  const detection = Date.now() - killedAt
  // The default keep-alive alone takes ~17 s. Documented: the timeout, plus the dedupe grace
  // (500 ms) in which a replacement connection could still arrive, plus 1 s of slack.
  expect(detection).toBeLessThan(TIMEOUT + 500 + 1000)
  // Its channels are gone with it: the old Peer can no longer be written to.
  expect(() => chat.send('anyone there?', peer)).toThrow(expect.objectContaining({ code: 'ERR_UNKNOWN_PEER' }))

  // Written while it was dead.
  await core.append(Array.from({ length: 150 }, (_, i) => Buffer.from(`block ${150 + i}`)))

  // Second life on the same store: it starts from what it had and catches up.
  const second = startReader(keyHex, dir, 300)
  await until(() => field(second, 'ready') === true, 30_000, 'the restarted reader')
  expect(field(second, 'startLength')).toBe(150)
  const [again] = await waitFor(writer.peers$, (peers) => peers.length === 1, 30_000)
  expect(b4a.toString(again.remotePublicKey, 'hex')).toBe(field(first, 'publicKey'))
  expect(again).not.toBe(peer)
  await until(() => field(second, 'verified') === 300, 30_000, 'all 300 blocks verified')
  console.log(JSON.stringify({ scenario: 'killed-peer', timeout: TIMEOUT, detectionMs: detection }))
})
