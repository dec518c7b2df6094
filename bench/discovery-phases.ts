/// <reference path="../types/index.d.ts" preserve="true" />
/**
 * A diagnostic, not a scenario: where the time of one `configure` goes on a fresh networker,
 * phase by phase, next to a bare Hyperswarm's join. `npx ts-node --transpile-only
 * bench/discovery-phases.ts [runs]`. Timestamps come from wrapping `Hyperswarm.prototype.listen`
 * and `join`; `--no-remembered` replaces `ConfigStore.list` by an empty answer to show what the
 * read of remembered configurations costs on the way.
 */
import Hyperswarm from 'hyperswarm'
import { ReactiveNetworker } from '../lib/reactive-networker'
import { ConfigStore } from '../lib/config-store'
import { createLocalNetwork } from '../lib/testnet'
import { randomTopic } from '../test/kit/peers'
import { Resources, bootstrappedFirewalledNode, median, now } from './common'

interface Marks {
  listen?: number
  listened?: number
  join?: number
}

const marks = new WeakMap<object, Marks>()
const marksOf = (swarm: object): Marks => {
  let m = marks.get(swarm)
  if (m === undefined) marks.set(swarm, (m = {}))
  return m
}

function instrument(): void {
  const proto = Hyperswarm.prototype
  const listen = proto.listen
  const join = proto.join
  proto.listen = function (this: Hyperswarm): Promise<void> {
    const m = marksOf(this)
    m.listen ??= now()
    const listening = listen.call(this)
    void listening.then(() => (m.listened ??= now()))
    return listening
  }
  proto.join = function (this: Hyperswarm, topic: Buffer, opts?: Hyperswarm.JoinOptions): Hyperswarm.PeerDiscoverySession {
    marksOf(this).join ??= now()
    return join.call(this, topic, opts)
  }
}

async function main(): Promise<void> {
  const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 40)
  if (process.argv.includes('--no-remembered')) ConfigStore.list = async () => []
  instrument()
  const net = await createLocalNetwork()
  const rows = new Map<string, number[]>()
  const add = (key: string, value: number | undefined): void => {
    if (value !== undefined && Number.isFinite(value)) rows.set(key, [...(rows.get(key) ?? []), value])
  }
  for (let i = 0; i < runs; i++) {
    const res = new Resources()
    try {
      const store = res.store()
      await store.ready()
      const networker = new ReactiveNetworker(store, { dht: await bootstrappedFirewalledNode(net, res) })
      res.defer(() => networker.close())
      const start = now()
      await networker.configure(randomTopic())
      const end = now()
      const swarm = networker.hyperswarm
      if (swarm === null) throw new Error('configure() resolved without a swarm')
      const m = marksOf(swarm)
      add('ours: configure() → swarm.listen() called', (m.listen ?? NaN) - start)
      add('ours: swarm.listen()', (m.listened ?? NaN) - (m.listen ?? NaN))
      add('ours: listening → swarm.join() called', (m.join ?? NaN) - (m.listened ?? NaN))
      add('ours: join → configure() resolved (flushed)', end - (m.join ?? NaN))
      add('ours: total', end - start)

      const raw = new Hyperswarm({ dht: await bootstrappedFirewalledNode(net, res) })
      res.defer(() => raw.destroy())
      raw.on('connection', (conn) => {
        conn.on('error', () => {})
        store.replicate(conn)
      })
      const rawStart = now()
      await raw.join(randomTopic(), { server: true, client: true }).flushed()
      const rawEnd = now()
      const r = marksOf(raw)
      add('raw: join → swarm.listen() called (inside join)', (r.listen ?? NaN) - rawStart)
      add('raw: swarm.listen()', (r.listened ?? NaN) - (r.listen ?? NaN))
      add('raw: listening → flushed', rawEnd - (r.listened ?? NaN))
      add('raw: total', rawEnd - rawStart)
    } finally {
      await res.cleanup()
    }
  }
  await net.destroy()
  console.log(`medians of ${runs} runs${process.argv.includes('--no-remembered') ? ' (ConfigStore.list stubbed)' : ''}:`)
  for (const [key, values] of rows) console.log(`  ${median(values).toFixed(3).padStart(7)} ms  ${key}`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
