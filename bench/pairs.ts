/// <reference path="../types/index.d.ts" preserve="true" />
import Hyperswarm from 'hyperswarm'
import Protomux from 'protomux'
import c from 'compact-encoding'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { firstValueFrom } from 'rxjs'
import { ReactiveNetworker } from '../lib/reactive-networker'
import type { Extension } from '../lib/extensions'
import type { Peer } from '../lib/peer'
import type { LocalNetwork } from '../lib/testnet'
import { randomTopic } from '../test/kit/peers'
import { sleep, until, waitFor } from '../test/kit/wait'
import { Resources, bootstrappedFirewalledNode } from './common'

/**
 * Two connected endpoints for the extension scenarios, built both ways side by side: two
 * networkers with a registered extension, and two bare Hyperswarms with a raw Protomux channel
 * on the muxer replication uses. A and B live in this process.
 */

/** How long a fresh pair is left alone before measuring: Hyperswarm resolves duplicates in ms. */
const SETTLE_MS = 300

/** The extension name of ours and the Protomux protocol of raw. */
export const EXTENSION_NAME = 'bench'
export const RAW_PROTOCOL = 'bench/raw-extension'

export interface OursPair {
  readonly a: ReactiveNetworker
  readonly b: ReactiveNetworker
  readonly extA: Extension<Buffer>
  readonly extB: Extension<Buffer>
  /** B, as A sees it. */
  readonly peerB: Peer
  /** A, as B sees it. */
  readonly peerA: Peer
}

/** Two networkers on fresh stores, connected on a random topic, each with the extension. */
export async function oursPair(net: LocalNetwork, res: Resources): Promise<OursPair> {
  const [storeA, storeB] = [res.store(), res.store()]
  const a = new ReactiveNetworker(storeA, { dht: await bootstrappedFirewalledNode(net, res) })
  const b = new ReactiveNetworker(storeB, { dht: await bootstrappedFirewalledNode(net, res) })
  res.defer(() => Promise.all([a.close(), b.close()]))
  const extA = a.registerExtension(EXTENSION_NAME, { encoding: 'binary' })
  const extB = b.registerExtension(EXTENSION_NAME, { encoding: 'binary' })
  const topic = randomTopic()
  await a.configure(topic)
  const bothSee = Promise.all([
    waitFor(a.peers$, (peers) => peers.length === 1),
    waitFor(b.peers$, (peers) => peers.length === 1)
  ])
  await b.configure(topic)
  await bothSee
  await sleep(SETTLE_MS)
  const [peerB] = await firstValueFrom(a.peers$)
  const [peerA] = await firstValueFrom(b.peers$)
  if (peerA === undefined || peerB === undefined) throw new Error('the pair lost its connection while settling')
  return { a, b, extA, extB, peerA, peerB }
}

/** One side of the raw pair: its live connection and the channel opened on it. */
export interface RawEnd {
  readonly swarm: Hyperswarm
  readonly stream: NoiseSecretStream
  readonly mux: Protomux
  readonly channel: Protomux.Channel
  /** `channel.messages[0]`: the one message type, raw bytes. */
  readonly message: Protomux.Message<Uint8Array>
  /** Where this end's incoming messages go; replace it to change the handler. */
  onmessage: (bytes: Uint8Array) => void
}

export interface RawPair {
  readonly a: RawEnd
  readonly b: RawEnd
}

/**
 * Two bare Hyperswarms, each replicating its store on every connection and opening one raw
 * Protomux channel on it; returned once each side has exactly one live connection whose
 * channel is open.
 */
export async function rawPair(net: LocalNetwork, res: Resources): Promise<RawPair> {
  const topic = randomTopic()
  const a = rawSwarm(res, await bootstrappedFirewalledNode(net, res))
  const b = rawSwarm(res, await bootstrappedFirewalledNode(net, res))
  await a.swarm.join(topic, { server: true, client: true }).flushed()
  b.swarm.join(topic, { server: true, client: true })
  const live = (side: RawSide): RawEnd | null => {
    if (side.swarm.connections.size !== 1) return null
    const [stream] = side.swarm.connections
    const end = side.ends.get(stream)
    return end !== undefined && end.channel.opened ? end : null
  }
  await until(() => live(a) !== null && live(b) !== null, 30_000, 'a raw connection', 5)
  await sleep(SETTLE_MS)
  const endA = live(a)
  const endB = live(b)
  if (endA === null || endB === null) throw new Error('the raw pair lost its connection while settling')
  return { a: endA, b: endB }

  function rawSwarm(resources: Resources, dht: Awaited<ReturnType<typeof bootstrappedFirewalledNode>>): RawSide {
    const store = resources.store()
    const swarm = new Hyperswarm({ dht })
    resources.defer(() => swarm.destroy())
    const ends = new Map<NoiseSecretStream, RawEnd>()
    swarm.on('connection', (stream: NoiseSecretStream) => {
      stream.on('error', () => {})
      store.replicate(stream)
      const mux = Protomux.from(stream)
      const channel = mux.createChannel({
        protocol: RAW_PROTOCOL,
        unique: true,
        messages: [{ encoding: c.raw, onmessage: (bytes: Uint8Array) => end.onmessage(bytes) }]
      })
      if (channel === null) return
      const end: RawEnd = { swarm, stream, mux, channel, message: channel.messages[0], onmessage: () => {} }
      ends.set(stream, end)
      stream.once('close', () => ends.delete(stream))
      channel.open()
    })
    return { swarm, ends }
  }
}

interface RawSide {
  readonly swarm: Hyperswarm
  readonly ends: Map<NoiseSecretStream, RawEnd>
}

/** Resolves on the stream's next `'drain'` (or its close). */
export function drain(stream: NoiseSecretStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.removeListener('drain', done)
      stream.removeListener('close', done)
      resolve()
    }
    stream.on('drain', done)
    stream.on('close', done)
  })
}
