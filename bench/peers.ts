/// <reference path="../types/index.d.ts" preserve="true" />
import b4a from 'b4a'
import Hyperswarm from 'hyperswarm'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { firstValueFrom } from 'rxjs'
import { ReactiveNetworker } from '../lib/reactive-networker'
import type { LocalNetwork } from '../lib/testnet'
import { isolated } from './isolate'
import { memory } from '../test/kit/gc'
import { randomTopic } from '../test/kit/peers'
import { sleep, until, waitFor } from '../test/kit/wait'
import {
  Metric,
  Resources,
  ScenarioOptions,
  ScenarioResult,
  bootstrappedFirewalledNode,
  metric,
  networkFor,
  now,
  round,
  trial
} from './common'

/** How the endpoints join the topic. */
export type JoinMode = 'simultaneous' | 'staggered'

/**
 * Peers at scale: `size` endpoints in this process join one topic and must form a full mesh of
 * size·(size−1)/2 connections; then half of them close and the other half must see them go;
 * then the rest close. Both stacks run it twice:
 *
 * - `simultaneous`: every endpoint joins at the same moment (announce + lookup). Endpoints that
 *   join at the same instant can miss each other until Hyperswarm's ~10 minute refresh; ours
 *   looks the topic up again 1 s and 2 s after joining. A mesh gets a cap and reports how far
 *   it got.
 * - `staggered`: each endpoint joins once the previous one's announce finished (`configure`
 *   with flush / `session.flushed()`), which needs no relookup: the like-for-like comparison.
 */
export async function peers(opts: ScenarioOptions & { isolate?: boolean } = {}): Promise<ScenarioResult> {
  const smoke = opts.smoke ?? false
  const isolate = opts.isolate ?? (!smoke && opts.only === undefined)
  const size = smoke ? 4 : 32
  const caps = smoke ? { ours: 8_000, raw: 1_000, leave: 3_000 } : { ours: 12_000, raw: 4_000, leave: 4_000 }
  const startedAt = new Date()
  const t0 = now()
  const res = new Resources()
  try {
    const net = await networkFor(opts, res)
    const run = async (side: 'ours' | 'raw', mode: JoinMode): Promise<MeshRun | null> => {
      if (opts.only !== undefined && opts.only !== side) return null
      if (isolate) return isolated<MeshRun>(net, side === 'ours' ? 'peers:oursTrial' : 'peers:rawTrial', [size, mode, caps])
      return side === 'ours' ? oursTrial(net, size, mode, caps) : rawTrial(net, size, mode, caps)
    }
    // A/B, then A/B again with the other join mode.
    const simultaneous: Pair = { ours: await run('ours', 'simultaneous'), raw: await run('raw', 'simultaneous') }
    const staggered: Pair = { ours: await run('ours', 'staggered'), raw: await run('raw', 'staggered') }
    type Figure = 'meshMs' | 'rssPerConnection' | 'heapPerConnection' | 'leaveMs' | 'closeMs'
    const value = (r: MeshRun | null, key: Figure): number | null => {
      const v = r === null ? null : r[key]
      return v === null || !Number.isFinite(v) ? null : v
    }
    const compare = (key: string, label: string, unit: string, runs: Pair, figure: Figure): Metric =>
      metric({ key, label, unit, better: 'lower', ours: value(runs.ours, figure), raw: value(runs.raw, figure) })
    const expected = (size * (size - 1)) / 2
    const describe = (r: MeshRun | null): string =>
      r === null
        ? 'not run'
        : `${r.connections}/${expected} connections${r.meshMs === null ? ` (no full mesh within ${r.capMs} ms)` : ''}; ` +
          `after the leave: ${r.stalePeers} stale peer entries${r.leaveMs === null ? ` (still there after ${caps.leave} ms)` : ''}`
    return {
      scenario: 'peers',
      title: `Peers at scale: ${size} endpoints in one process on one topic (full mesh of ${expected})`,
      smoke,
      startedAt: startedAt.toISOString(),
      durationMs: now() - t0,
      params: {
        isolated: isolate,
        endpoints: size,
        expectedConnections: expected,
        rounds: 1,
        capOursMs: caps.ours,
        capRawMs: caps.raw,
        leaveCapMs: caps.leave
      },
      metrics: [
        compare('mesh-simultaneous', `all join at once → every endpoint has ${size - 1} peers`, 'ms', simultaneous, 'meshMs'),
        compare('mesh-staggered', `staggered joins → every endpoint has ${size - 1} peers`, 'ms', staggered, 'meshMs'),
        compare('rss', 'RSS per connection, both ends (staggered)', 'KiB', staggered, 'rssPerConnection'),
        compare('heap', 'heap per connection, both ends (staggered)', 'KiB', staggered, 'heapPerConnection'),
        compare('leave', `half close → the others are down to ${size / 2 - 1} peers (staggered)`, 'ms', staggered, 'leaveMs'),
        compare('close', 'close the rest → all closed (staggered)', 'ms', staggered, 'closeMs')
      ],
      checks: {
        expectedConnections: expected,
        oursSimultaneous: describe(simultaneous.ours),
        rawSimultaneous: describe(simultaneous.raw),
        oursStaggered: describe(staggered.ours),
        rawStaggered: describe(staggered.raw),
        fullMeshOurs: [simultaneous.ours, staggered.ours].every((r) => r === null || r.meshMs !== null),
        allClosedOurs: [simultaneous.ours, staggered.ours].every((r) => r === null || r.allClosed),
        allClosedRaw: [simultaneous.raw, staggered.raw].every((r) => r === null || r.allClosed)
      },
      notes: [
        `One run per side and join mode (each builds ${size} stores, DHT nodes and swarms)` +
          (isolate ? ', each in a fresh Node process on the same loopback network.' : '.'),
        'Memory per connection is the process-wide delta (after a full collection) from before the joins to the mesh, ' +
          'divided by the connections: both ends of each connection live in the process.',
        'Leaving: ours removes a closed peer after `dedupeGraceTime` (500 ms), so that a duplicate-connection swap is no ' +
          'remove/add flicker; raw sees the close at once. A stale peer entry is a connection to a closed endpoint still ' +
          'listed after the leave cap.'
      ]
    }
  } finally {
    await res.cleanup()
  }
}

/** One run of each side (null: not run). */
interface Pair {
  ours: MeshRun | null
  raw: MeshRun | null
}

export interface MeshRun {
  /** ms until the full mesh, or null if it did not form within the cap. */
  meshMs: number | null
  capMs: number
  /** Connections (counted once) when the mesh formed or the cap ran out. */
  connections: number
  rssPerConnection: number
  heapPerConnection: number
  /** ms until every staying endpoint lost the leavers, or null (see `stalePeers`). */
  leaveMs: number | null
  /** Connections to closed endpoints still listed by staying ones when the wait ended. */
  stalePeers: number
  closeMs: number
  allClosed: boolean
}

export interface Caps {
  ours: number
  raw: number
  leave: number
}

/** One run of ours (exported for `isolated`). */
export function oursTrial(net: LocalNetwork, size: number, mode: JoinMode, caps: Caps): Promise<MeshRun> {
  return trial(async (res) => {
    const stores = Array.from({ length: size }, () => res.store())
    await Promise.all(stores.map((store) => store.ready()))
    const nodes = await Promise.all(stores.map(() => bootstrappedFirewalledNode(net, res)))
    const networkers = stores.map((store, i) => new ReactiveNetworker(store, { dht: nodes[i] }))
    res.defer(() => Promise.all(networkers.map((n) => n.close())))
    await Promise.all(networkers.map((n) => n.listen()))
    const peerCounts = (): Promise<number[]> =>
      Promise.all(networkers.map(async (n) => (n.closed ? 0 : (await firstValueFrom(n.peers$)).length)))
    const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)

    const topic = randomTopic()
    const before = memory()
    const start = now()
    const mesh = Promise.all(networkers.map((n) => waitFor(n.peers$, (p) => p.length === size - 1, caps.ours)))
    mesh.catch(() => {})
    if (mode === 'simultaneous') {
      for (const n of networkers) void n.configure(topic, { announce: true, lookup: true, flush: false }).catch(() => {})
    } else {
      for (const n of networkers) await n.configure(topic, { announce: true, lookup: true })
    }
    const meshMs = await mesh.then(
      () => now() - start,
      () => null
    )
    const connections = sum(await peerCounts()) / 2
    const after = memory()

    const leaving = networkers.slice(0, size / 2)
    const staying = networkers.slice(size / 2)
    const leavingKeys = new Set(leaving.map((n) => (n.publicKey as Buffer).toString('hex')))
    const leaveStart = now()
    const othersSee = Promise.all(
      staying.map((n) =>
        waitFor(n.peers$, (p) => p.every((peer) => !leavingKeys.has(b4a.toString(peer.remotePublicKey, 'hex'))), caps.leave)
      )
    )
    othersSee.catch(() => {})
    await Promise.all(leaving.map((n) => n.close()))
    const leaveMs = await othersSee.then(
      () => now() - leaveStart,
      () => null
    )
    let stalePeers = 0
    for (const n of staying) {
      for (const peer of await firstValueFrom(n.peers$)) if (leavingKeys.has(b4a.toString(peer.remotePublicKey, 'hex'))) stalePeers++
    }
    const closeStart = now()
    await Promise.all(staying.map((n) => n.close()))
    const closeMs = now() - closeStart
    return {
      meshMs: meshMs === null ? null : round(meshMs, 1),
      capMs: caps.ours,
      connections,
      rssPerConnection: round((after.rss - before.rss) / 1024 / Math.max(1, connections), 1),
      heapPerConnection: round((after.heapUsed - before.heapUsed) / 1024 / Math.max(1, connections), 1),
      leaveMs: leaveMs === null ? null : round(leaveMs, 1),
      stalePeers,
      closeMs: round(closeMs, 1),
      allClosed: networkers.every((n) => n.closed)
    }
  })
}

/** One run of the bare stack (exported for `isolated`). */
export function rawTrial(net: LocalNetwork, size: number, mode: JoinMode, caps: Caps): Promise<MeshRun> {
  return trial(async (res) => {
    const stores = Array.from({ length: size }, () => res.store())
    await Promise.all(stores.map((store) => store.ready()))
    const nodes = await Promise.all(stores.map(() => bootstrappedFirewalledNode(net, res)))
    const swarms = stores.map((store, i) => {
      const swarm = new Hyperswarm({ dht: nodes[i] })
      swarm.on('connection', (conn: NoiseSecretStream) => {
        conn.on('error', () => {})
        store.replicate(conn)
      })
      return swarm
    })
    res.defer(() => Promise.all(swarms.map((s) => s.destroy())))
    await Promise.all(swarms.map((s) => s.listen()))
    const connectionCount = (): number => swarms.reduce((sum, s) => sum + (s.destroyed ? 0 : s.connections.size), 0) / 2

    const topic = randomTopic()
    const before = memory()
    const start = now()
    const full = (): boolean => swarms.every((s) => s.connections.size === size - 1)
    if (mode === 'simultaneous') {
      for (const swarm of swarms) swarm.join(topic, { server: true, client: true })
    } else {
      for (const swarm of swarms) await swarm.join(topic, { server: true, client: true }).flushed()
    }
    const meshMs = await until(full, Math.max(0, caps.raw - (now() - start)), 'the raw mesh', 5).then(
      () => now() - start,
      () => null
    )
    const connections = connectionCount()
    const after = memory()

    const leaving = swarms.slice(0, size / 2)
    const staying = swarms.slice(size / 2)
    const leavingKeys = new Set(leaving.map((s) => s.keyPair.publicKey.toString('hex')))
    const stale = (): number =>
      staying.reduce(
        (sum, s) => sum + [...s.connections].filter((c) => leavingKeys.has(b4a.toString(c.remotePublicKey, 'hex'))).length,
        0
      )
    const leaveStart = now()
    await Promise.all(leaving.map((s) => s.destroy()))
    const leaveMs = await until(() => stale() === 0, caps.leave, 'raw departures', 5).then(
      () => now() - leaveStart,
      () => null
    )
    const stalePeers = stale()
    const closeStart = now()
    await Promise.all(staying.map((s) => s.destroy()))
    const closeMs = now() - closeStart
    // Let the last closes land before the trial's cleanup.
    await sleep(10)
    return {
      meshMs: meshMs === null ? null : round(meshMs, 1),
      capMs: caps.raw,
      connections,
      rssPerConnection: round((after.rss - before.rss) / 1024 / Math.max(1, connections), 1),
      heapPerConnection: round((after.heapUsed - before.heapUsed) / 1024 / Math.max(1, connections), 1),
      leaveMs: leaveMs === null ? null : round(leaveMs, 1),
      stalePeers,
      closeMs: round(closeMs, 1),
      allClosed: swarms.every((s) => s.destroyed)
    }
  })
}
