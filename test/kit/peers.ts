/**
 * Making peers meet in tests and benchmarks: a fresh topic, waiting for a peer set, a connected
 * announcer/looker pair, and the Noise stream behind a `Peer`.
 */
import b4a from 'b4a'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { randomBytes } from 'crypto'
import { ReactiveNetworker } from '../../lib/reactive-networker'
import type { Peer } from '../../lib/peer'
import type { Harness } from './harness'
import { waitFor } from './wait'

/** A random 32-byte topic. */
export function randomTopic(): Buffer {
  return randomBytes(32)
}

/** Resolves once the networker's peer set has exactly `count` peers. */
export function waitForPeers(networker: ReactiveNetworker, count: number, ms = 20_000): Promise<readonly Peer[]> {
  return waitFor(networker.peers$, (peers) => peers.length === count, ms)
}

/** The Noise secret stream behind a peer (`Peer.stream` is typed structurally, browser-safe). */
export function noiseOf(peer: Peer): NoiseSecretStream {
  return peer.stream as unknown as NoiseSecretStream
}

/**
 * One side of {@link connect}: a networker, or a legacy facade (`Networker`), which is
 * configured through itself and watched through its `reactive` networker.
 */
export type Endpoint =
  | ReactiveNetworker
  | {
      readonly reactive: ReactiveNetworker
      configure(topic: Buffer, opts: { announce: boolean; lookup: boolean }): Promise<unknown>
    }

/** What {@link connect} resolves with: the Peer each side sees of the other, and the topic. */
export interface Connected {
  /** The looker, as the announcer sees it. */
  readonly atAnnouncer: Peer
  /** The announcer, as the looker sees it. */
  readonly atLooker: Peer
  readonly topic: Buffer
}

/**
 * Connects `announcer` and `looker` on `topic` (default: a fresh one): the first announces, the
 * second looks up; resolves once each has the other in its peer set.
 */
export async function connect(announcer: Endpoint, looker: Endpoint, topic = randomTopic()): Promise<Connected> {
  await announcer.configure(topic, { announce: true, lookup: false })
  await looker.configure(topic, { announce: false, lookup: true })
  const a = reactiveOf(announcer)
  const l = reactiveOf(looker)
  const atAnnouncer = await peerWithKey(a, publicKeyOf(l))
  const atLooker = await peerWithKey(l, publicKeyOf(a))
  return { atAnnouncer, atLooker, topic }
}

/** Two new networkers of the harness on a fresh topic, `a` announcing and `b` looking up, once both see each other. */
export async function connectedPair(h: Harness): Promise<{ a: ReactiveNetworker; b: ReactiveNetworker } & Connected> {
  const a = h.networker()
  const b = h.networker()
  return { a, b, ...(await connect(a, b)) }
}

function reactiveOf(endpoint: Endpoint): ReactiveNetworker {
  return endpoint instanceof ReactiveNetworker ? endpoint : endpoint.reactive
}

function publicKeyOf(networker: ReactiveNetworker): Buffer {
  const key = networker.publicKey
  if (key === null) throw new Error('the networker has not listened')
  return key
}

/** Resolves with the peer of `networker` whose key is `key`, once there is one. */
async function peerWithKey(networker: ReactiveNetworker, key: Buffer): Promise<Peer> {
  const peers = await waitFor(networker.peers$, (ps) => ps.some((p) => b4a.equals(p.remotePublicKey, key)))
  return peers.find((p) => b4a.equals(p.remotePublicKey, key)) as Peer
}
