/// <reference path="../types/index.d.ts" preserve="true" />
/**
 * A diagnostic, not a scenario: the second half of the discovery scenario as a timeline. Side A
 * has joined and flushed; side B joins; every mark is ms after B's `configure` (ours) or `join`
 * (raw), medians of `runs` rounds run alternately on one loopback testnet:
 * `npx ts-node --transpile-only bench/discovery-timeline.ts [runs]`.
 *
 * It shows where "both connected" waits after the bare stack is done: the bare stack is done at
 * A's `'connection'` (the accepting side's comes last); a networker adds the keep-alive channel's
 * open from each side, and B's peer waits for A's, which A writes as its connection opens.
 * Marks come from wrapping `HyperDHT.prototype.connect`, from the networkers' public
 * `connections$` and `peers$`, and from each connection's transport (`rawStream`): its first
 * write and its first data after the connection event.
 */
import HyperDHT from 'hyperdht'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { LocalNetwork, createLocalNetwork } from '../lib/testnet'
import { randomTopic } from '../test/kit/peers'
import { waitFor } from '../test/kit/wait'
import { Resources, median, now } from './common'
import { networkerPair, rawSwarm, trialSides } from './discovery'

type Marks = Map<string, number>

/** The marks of the round under way (null between rounds). */
let marks: Marks | null = null
const mark = (key: string): void => {
  if (marks !== null && !marks.has(key)) marks.set(key, now())
}

interface RawTransport {
  write(...args: unknown[]): boolean
  on(event: 'data', listener: () => void): unknown
}

/** Marks a connection's event, its transport's first write and first data from then on. */
function watchConnection(side: string, conn: NoiseSecretStream): void {
  mark(`${side}: connection event`)
  const raw = conn.rawStream as unknown as RawTransport | null
  if (raw === null) return
  const write = raw.write
  raw.write = function (this: RawTransport, ...args: unknown[]): boolean {
    mark(`${side}: first frame handed to the transport`)
    return write.apply(this, args)
  }
  raw.on('data', () => mark(`${side}: first data received after it`))
}

/** HyperDHT's `connect` (the client side of every Hyperswarm dial); not in our type declarations. */
type Connect = (this: HyperDHT, ...args: unknown[]) => NoiseSecretStream

function instrument(): void {
  const proto = HyperDHT.prototype as unknown as { connect: Connect }
  const connect = proto.connect
  proto.connect = function (this: HyperDHT, ...args: unknown[]): NoiseSecretStream {
    mark('B: dial')
    const stream = connect.apply(this, args)
    stream.once('open', () => mark('B: dialled connection open'))
    return stream
  }
}

async function ours(net: LocalNetwork, res: Resources): Promise<Marks> {
  const [a, b] = await networkerPair(net, res)
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: true })
  // Subscribed before the networkers' own pipelines see the connection (connections$ is tapped
  // first), so the transport's first write is the one the keep-alive channel's open makes.
  a.connections$.subscribe((e) => e.type === 'open' && watchConnection('A', e.connection as NoiseSecretStream))
  b.connections$.subscribe((e) => e.type === 'open' && watchConnection('B', e.connection as NoiseSecretStream))
  a.peers$.subscribe((p) => p.length > 0 && mark('A: peer on peers$'))
  b.peers$.subscribe((p) => p.length > 0 && mark('B: peer on peers$'))
  const bothSee = Promise.all([waitFor(a.peers$, (p) => p.length === 1), waitFor(b.peers$, (p) => p.length === 1)])
  const own: Marks = (marks = new Map([['start', now()]]))
  const configuring = b.configure(topic, { announce: true, lookup: true })
  await bothSee
  mark('both connected')
  marks = null
  await configuring
  return own
}

/** The bare stack, as the discovery scenario runs it (replication and a probe channel on every connection). */
async function raw(net: LocalNetwork, res: Resources): Promise<Marks> {
  const [sideA, sideB] = await trialSides(net, res)
  const topic = randomTopic()
  const connected = new Set<string>()
  let done: () => void = () => {}
  const bothSee = new Promise<void>((resolve) => (done = resolve))
  const onconnection = (side: string) => (conn: NoiseSecretStream) => {
    watchConnection(side, conn)
    connected.add(side)
    if (connected.size === 2) done()
  }
  const a = rawSwarm(res, sideA, onconnection('A'), () => {})
  await a.join(topic, { server: true, client: true }).flushed()
  const own: Marks = (marks = new Map([['start', now()]]))
  const b = rawSwarm(res, sideB, onconnection('B'), () => {})
  void b.join(topic, { server: true, client: true })
  await bothSee
  mark('both connected')
  marks = null
  return own
}

async function main(): Promise<void> {
  const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 40)
  instrument()
  const net = await createLocalNetwork()
  const rows = { ours: new Map<string, number[]>(), raw: new Map<string, number[]>() }
  const add = (side: 'ours' | 'raw', m: Marks): void => {
    const start = m.get('start') ?? 0
    for (const [key, at] of m) {
      if (key !== 'start') rows[side].set(key, [...(rows[side].get(key) ?? []), at - start])
    }
  }
  try {
    // One unmeasured round of each (module loading, JIT), then alternate.
    for (let i = 0; i <= runs; i++) {
      for (const side of i % 2 === 0 ? (['ours', 'raw'] as const) : (['raw', 'ours'] as const)) {
        const res = new Resources()
        try {
          const m = side === 'ours' ? await ours(net, res) : await raw(net, res)
          if (i > 0) add(side, m)
        } finally {
          await res.cleanup()
        }
      }
    }
  } finally {
    await net.destroy()
  }
  for (const side of ['raw', 'ours'] as const) {
    console.log(`${side} (medians of ${runs} rounds, ms after B's ${side === 'ours' ? 'configure' : 'join'}):`)
    const sorted = [...rows[side]].map(([key, values]) => [key, median(values)] as const).sort((x, y) => x[1] - y[1])
    for (const [key, value] of sorted) console.log(`  ${value.toFixed(3).padStart(8)}  ${key}`)
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
