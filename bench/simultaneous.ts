import Hyperswarm from 'hyperswarm'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { ReactiveNetworker } from '../lib/reactive-networker'
import type { LocalNetwork } from '../lib/testnet'
import { randomTopic } from '../test/kit/peers'
import { waitFor } from '../test/kit/wait'
import {
  ScenarioOptions,
  ScenarioResult,
  alternate,
  bootstrappedFirewalledNode,
  metric,
  networkFor,
  now,
  trial,
  Resources
} from './common'

/** How long a round waits for the two sides to meet before it counts as missed. */
const CAP_MS = 5000

/**
 * Simultaneous joiners: two peers join a fresh topic at the same instant (announce + lookup on
 * both). Each first lookup ends before the other's announce is stored, so the bare stack waits
 * for Hyperswarm's own refresh (about 10 minutes); we look again as soon as our announce is
 * done. A round that has not met after CAP_MS counts as CAP_MS (and as missed).
 */
export async function simultaneous(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const smoke = opts.smoke ?? false
  const rounds = smoke ? 1 : 10
  const startedAt = new Date()
  const t0 = now()
  const res = new Resources()
  const missed = { ours: 0, raw: 0 }
  try {
    const net = await networkFor(opts, res)
    const times = await alternate(
      rounds,
      {
        ours: async () => {
          const ms = await oursRound(net)
          if (ms >= CAP_MS) missed.ours++
          return ms
        },
        raw: async () => {
          const ms = await rawRound(net)
          if (ms >= CAP_MS) missed.raw++
          return ms
        }
      },
      opts.only
    )
    return {
      scenario: 'simultaneous',
      title: 'Simultaneous join: two peers join a fresh topic at the same instant',
      smoke,
      startedAt: startedAt.toISOString(),
      durationMs: now() - t0,
      params: { rounds, capMs: CAP_MS, dhtNodes: 3 },
      metrics: [
        metric({
          key: 'both-connected',
          label: `both join at once → both connected (capped at ${CAP_MS} ms)`,
          unit: 'ms',
          better: 'lower',
          ours: times.ours,
          raw: times.raw,
          target: { op: '<=', value: 250, on: 'ours' }
        })
      ],
      checks: { roundsMissedOurs: missed.ours, roundsMissedRaw: missed.raw },
      notes: [`A round counts as ${CAP_MS} ms when the two have not met by then; the bare stack then waits for Hyperswarm's ~10 min refresh.`]
    }
  } finally {
    await res.cleanup()
  }
}

function oursRound(net: LocalNetwork): Promise<number> {
  return trial(async (res) => {
    const [dhtA, dhtB] = await Promise.all([bootstrappedFirewalledNode(net, res), bootstrappedFirewalledNode(net, res)])
    const a = new ReactiveNetworker(res.store(), { dht: dhtA })
    const b = new ReactiveNetworker(res.store(), { dht: dhtB })
    res.defer(() => Promise.all([a.close(), b.close()]))
    await Promise.all([a.listen(), b.listen()])
    const topic = randomTopic()
    const start = now()
    const both = Promise.all([waitFor(a.peers$, (p) => p.length === 1, CAP_MS), waitFor(b.peers$, (p) => p.length === 1, CAP_MS)])
    void a.configure(topic).catch(() => {})
    void b.configure(topic).catch(() => {})
    return both.then(
      () => now() - start,
      () => CAP_MS
    )
  })
}

function rawRound(net: LocalNetwork): Promise<number> {
  return trial(async (res) => {
    const [dhtA, dhtB] = await Promise.all([bootstrappedFirewalledNode(net, res), bootstrappedFirewalledNode(net, res)])
    const met: Array<Promise<void>> = []
    const swarms = [dhtA, dhtB].map((dht) => {
      const swarm = new Hyperswarm({ dht })
      res.defer(() => swarm.destroy())
      const store = res.store()
      met.push(
        new Promise<void>((resolve) =>
          swarm.on('connection', (conn: NoiseSecretStream) => {
            conn.on('error', () => {})
            store.replicate(conn)
            resolve()
          })
        )
      )
      return swarm
    })
    await Promise.all(swarms.map((s) => s.listen()))
    const topic = randomTopic()
    const start = now()
    for (const swarm of swarms) swarm.join(topic, { server: true, client: true })
    const capped = new Promise<number>((resolve) => setTimeout(() => resolve(CAP_MS), CAP_MS))
    return Promise.race([Promise.all(met).then(() => now() - start), capped])
  })
}
