import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { createHarness, Harness, randomTopic, until, waitForPeers } from '../kit'
import { rawPeer } from '../kit/raw-peer'

/**
 * A peer that stops in the middle of a secret-stream frame: it announces a frame of 16 MiB (the
 * largest the stream takes), sends 1 MiB of it and then nothing (its transport stays up). No
 * frame completes again, so with `timeout` the connection is silent and dropped like a killed
 * peer's (README: "ms of silence, from the last frame received"). docs/SECURITY.md says what
 * happens without a `timeout`, and to a peer that trickles the frame.
 */

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

const TIMEOUT = 1000

test('with timeout, a peer that stops in the middle of a frame is dropped like a silent one, and others still get in', async () => {
  const n = h.networker(h.store(), { timeout: TIMEOUT })
  const topic = randomTopic()
  await n.configure(topic, { announce: true, lookup: false })
  const raw = rawPeer(h, n.publicKey as Buffer, 'x')
  await waitForPeers(n, 1)
  await until(() => raw.links.length === 1, 5000, 'the raw peer connected')
  const conn = raw.links[0].conn as NoiseSecretStream & { rawStream: { write(bytes: Buffer): boolean } }
  // Under the encryption: a frame's 3-byte little-endian length, then part of its body.
  const length = 16 * 1024 * 1024 - 1
  conn.rawStream.write(Buffer.from([length & 0xff, (length >> 8) & 0xff, (length >> 16) & 0xff]))
  conn.rawStream.write(Buffer.alloc(1024 * 1024, 7))
  const start = Date.now()
  await until(() => n.peers.length === 0, 10 * TIMEOUT, 'the half-sent frame dropped')
  const dropped = Date.now() - start
  console.log(`a frame stopped after 1 MiB of 16: dropped after ${dropped} ms (timeout ${TIMEOUT} ms)`)
  // The networker is unharmed: an honest peer joins.
  const honest = h.networker(h.store())
  await honest.configure(topic, { announce: false, lookup: true })
  const key = (honest.publicKey as Buffer).toString('hex')
  await until(() => n.peers.some((peer) => Buffer.from(peer.remotePublicKey).toString('hex') === key), 10_000, 'the honest peer')
})
