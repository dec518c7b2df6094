/// <reference path="../types/index.d.ts" preserve="true" />
import Hyperswarm from 'hyperswarm'
import type Corestore from 'corestore'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { randomBytes } from 'crypto'
import { ReactiveNetworker } from '../lib/reactive-networker'
import type { LocalNetwork } from '../lib/testnet'
import { waitFor } from '../test/kit/wait'
import {
  MiB,
  Resources,
  ScenarioOptions,
  ScenarioResult,
  alternate,
  bootstrappedFirewalledNode,
  metric,
  networkFor,
  now,
  trial
} from './common'

const BLOCK_SIZE = 64 * 1024

/**
 * Replication: one store holds a core of `blocks` × 64 KiB; a fresh store downloads all of it.
 * The clock runs from the connection being up on the reader to the download being done, so it
 * measures replication over our connection against replication over a bare Hyperswarm one.
 * Every trial uses a fresh reader store and fresh swarms on both sides.
 */
export async function replication(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const smoke = opts.smoke ?? false
  const blocks = smoke ? 32 : 1000
  const rounds = smoke ? 1 : 7
  const startedAt = new Date()
  const t0 = now()
  const res = new Resources()
  try {
    const net = await networkFor(opts, res)
    const writerStore = res.store()
    const core = writerStore.get({ name: 'bench-replication' })
    await core.ready()
    const block = randomBytes(BLOCK_SIZE)
    const batch: Buffer[] = []
    for (let i = 0; i < blocks; i++) {
      const copy = Buffer.from(block)
      copy.writeUInt32BE(i, 0) // every block differs
      batch.push(copy)
      if (batch.length === 100 || i === blocks - 1) await core.append(batch.splice(0))
    }
    const source: Source = {
      store: writerStore,
      key: core.key as Buffer,
      discoveryKey: core.discoveryKey as Buffer,
      blocks,
      last: await core.get(blocks - 1)
    }
    const complete = { ours: true, raw: true }
    // One unmeasured warm-up of each side on the first fifth of the core.
    if (!smoke) {
      const warm = { ...source, blocks: Math.ceil(blocks / 5), last: await core.get(Math.ceil(blocks / 5) - 1) }
      const warmUp = {
        ours: async () => (await oursTrial(net, warm)).mibPerSecond,
        raw: async () => (await rawTrial(net, warm)).mibPerSecond
      }
      await alternate(1, warmUp, opts.only)
    }
    const samples = await alternate(
      rounds,
      {
        ours: async () => {
          const r = await oursTrial(net, source)
          complete.ours &&= r.complete
          return r.mibPerSecond
        },
        raw: async () => {
          const r = await rawTrial(net, source)
          complete.raw &&= r.complete
          return r.mibPerSecond
        }
      },
      opts.only
    )
    const totalMiB = (blocks * BLOCK_SIZE) / MiB
    return {
      scenario: 'replication',
      title: `Replication: ${blocks} blocks of 64 KiB to a fresh store`,
      smoke,
      startedAt: startedAt.toISOString(),
      durationMs: now() - t0,
      params: { blocks, blockBytes: BLOCK_SIZE, totalMiB, rounds },
      metrics: [
        metric({
          key: 'throughput',
          label: 'download, connection up → all blocks stored',
          unit: 'MiB/s',
          better: 'higher',
          ours: samples.ours,
          raw: samples.raw,
          target: { op: '>=', value: 0.95, on: 'ratio' }
        })
      ],
      checks: {
        allBlocksReplicatedOurs: opts.only === 'raw' ? 'not run' : complete.ours,
        allBlocksReplicatedRaw: opts.only === 'ours' ? 'not run' : complete.raw
      },
      notes: [
        `${rounds} rounds per side after one unmeasured warm-up round of ${Math.ceil(blocks / 5)} blocks; ` +
          'each round uses a fresh reader store and fresh swarms on both sides.'
      ]
    }
  } finally {
    await res.cleanup()
  }
}

interface Source {
  store: Corestore
  key: Buffer
  discoveryKey: Buffer
  blocks: number
  last: Buffer | null
}

interface ReplicationTiming {
  mibPerSecond: number
  /** Every block arrived and the last one matches the writer's. */
  complete: boolean
}

/** Downloads the whole core into `clone` and checks it. */
async function download(clone: Corestore.Hypercore, source: Source, start: number): Promise<ReplicationTiming> {
  await clone.download({ start: 0, end: source.blocks }).done()
  const elapsed = now() - start
  const last = await clone.get(source.blocks - 1, { wait: false })
  const complete =
    clone.contiguousLength === source.blocks && last !== null && source.last !== null && last.equals(source.last)
  return { mibPerSecond: (source.blocks * BLOCK_SIZE) / MiB / (elapsed / 1000), complete }
}

function oursTrial(net: LocalNetwork, source: Source): Promise<ReplicationTiming> {
  return trial(async (res) => {
    const readerStore = res.store()
    const clone = readerStore.get({ key: source.key })
    await clone.ready()
    const writer = new ReactiveNetworker(source.store, { dht: await bootstrappedFirewalledNode(net, res) })
    const reader = new ReactiveNetworker(readerStore, { dht: await bootstrappedFirewalledNode(net, res) })
    res.defer(() => Promise.all([writer.close(), reader.close()]))
    await writer.configure(source.discoveryKey, { announce: true, lookup: false })
    const connected = waitFor(reader.peers$, (peers) => peers.length === 1)
    void reader.configure(source.discoveryKey, { announce: false, lookup: true }).catch(() => {})
    await connected
    return download(clone, source, now())
  })
}

function rawTrial(net: LocalNetwork, source: Source): Promise<ReplicationTiming> {
  return trial(async (res) => {
    const readerStore = res.store()
    const clone = readerStore.get({ key: source.key })
    await clone.ready()
    const writer = rawSwarm(res, source.store, new Hyperswarm({ dht: await bootstrappedFirewalledNode(net, res) }))
    const reader = rawSwarm(res, readerStore, new Hyperswarm({ dht: await bootstrappedFirewalledNode(net, res) }))
    await writer.join(source.discoveryKey, { server: true, client: false }).flushed()
    const connected = new Promise<void>((resolve) => reader.once('connection', () => resolve()))
    reader.join(source.discoveryKey, { server: false, client: true })
    await connected
    return download(clone, source, now())
  })
}

/** Wires a bare Hyperswarm: an error listener and `store.replicate` on every connection. */
function rawSwarm(res: Resources, store: Corestore, swarm: Hyperswarm): Hyperswarm {
  res.defer(() => swarm.destroy())
  swarm.on('connection', (conn: NoiseSecretStream) => {
    conn.on('error', () => {})
    store.replicate(conn)
  })
  return swarm
}
