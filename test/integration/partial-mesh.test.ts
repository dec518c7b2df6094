/**
 * A topic with more peers than `maxPeers` (issue 25): 24 networkers on the loopback DHT with
 * `maxPeers: 4` and `timeout: 2000`, one writer core of 200 blocks of 1 KiB, every node announcing
 * and looking up its discovery key. In each round every reader must hold every block (content
 * checked) — the data has to reach readers that are not connected to the writer, reader to
 * reader — and the graph of connections (each networker's `peers`, by public key, an edge where
 * both ends list each other) must be connected, with no node ever above `maxPeers`.
 *
 * Rounds alternate how the topic grows: odd rounds every node joins at once, even rounds one
 * after another (each `configure` awaited before the next node's). Half the readers open the core
 * before joining, half once every node joined (a core opened after its connections).
 *
 * `PARTIAL_MESH_ROUNDS` (default 10, the issue's figure), `PARTIAL_MESH_JOIN` (`alternate`,
 * `once` or `sequential`), `PARTIAL_MESH_ROUND_MS` (the deadline of a round, default 30 s),
 * `PARTIAL_MESH_KEEP_GOING=1` (run every round and fail at the end with all of them, instead of
 * stopping at the first failing one), `PARTIAL_MESH_NODES` / `PARTIAL_MESH_MAX_PEERS` (other sizes, such
 * as the issue's 12 nodes with `maxPeers` 3). A failing round shows, per node, its peers, the core's
 * replication sessions (`core.peers`), the peers without one, and how many connections it opened
 * (raw, before admission) in the round's last 10 s.
 */
import b4a from 'b4a'
import { randomBytes } from 'crypto'
import type Corestore from 'corestore'
import type { ReactiveNetworker } from '../../lib/reactive-networker'
import { createHarness, Harness, sleep } from '../kit'

type Hypercore = Corestore.Hypercore

const NODES = Number(process.env.PARTIAL_MESH_NODES ?? 24)
const MAX_PEERS = Number(process.env.PARTIAL_MESH_MAX_PEERS ?? 4)
const BLOCKS = 200
const BLOCK_SIZE = 1024
const ROUNDS = Number(process.env.PARTIAL_MESH_ROUNDS ?? 10)
const JOIN = process.env.PARTIAL_MESH_JOIN ?? 'alternate'
/** How long a round may take to deliver every block to every reader over a connected graph. */
const ROUND_MS = Number(process.env.PARTIAL_MESH_ROUND_MS ?? 30_000)
const KEEP_GOING = process.env.PARTIAL_MESH_KEEP_GOING === '1'
/** The window (ms) at the end of a round over which connection opens are counted. */
const CHURN_WINDOW_MS = 10_000

jest.setTimeout((KEEP_GOING ? ROUNDS : Math.min(ROUNDS, 3)) * (ROUND_MS + 20_000) + ROUNDS * 20_000)

const hex = (key: Uint8Array | null | undefined): string => (key ? b4a.toString(key, 'hex') : '')

interface Node {
  readonly index: number
  readonly networker: ReactiveNetworker
  readonly core: Hypercore
  /** When (Date.now()) each raw connection of this node opened. */
  readonly opens: number[]
}

/** The mutual edges of the connection graph, and how many edges only one end lists. */
function graphOf(nodes: readonly Node[]): { adjacency: Map<string, Set<string>>; oneSided: number } {
  const listed = new Map<string, Set<string>>()
  for (const node of nodes) listed.set(hex(node.networker.publicKey), new Set(node.networker.peers.map((p) => hex(p.remotePublicKey))))
  const adjacency = new Map<string, Set<string>>()
  let oneSided = 0
  for (const [key, peers] of listed) {
    const mutual = new Set<string>()
    for (const peer of peers) {
      if (listed.get(peer)?.has(key)) mutual.add(peer)
      else oneSided++
    }
    adjacency.set(key, mutual)
  }
  return { adjacency, oneSided }
}

/** The connected components' sizes, largest first. */
function components(adjacency: Map<string, Set<string>>): number[] {
  const seen = new Set<string>()
  const sizes: number[] = []
  for (const start of adjacency.keys()) {
    if (seen.has(start)) continue
    let size = 0
    const stack = [start]
    seen.add(start)
    while (stack.length > 0) {
      const key = stack.pop() as string
      size++
      for (const next of adjacency.get(key) ?? []) {
        if (!seen.has(next)) {
          seen.add(next)
          stack.push(next)
        }
      }
    }
    sizes.push(size)
  }
  return sizes.sort((a, b) => b - a)
}

/** Whether every block of the core is there and equal to the writer's. */
async function verified(core: Hypercore, blocks: readonly Buffer[]): Promise<boolean> {
  if (core.contiguousLength < blocks.length) return false
  for (let i = 0; i < blocks.length; i++) {
    const block = await core.get(i, { wait: false })
    if (block === null || !b4a.equals(block, blocks[i])) return false
  }
  return true
}

/** Connections a node opened (raw, before admission) in the last `CHURN_WINDOW_MS`. */
const recentOpens = (node: Node, now: number): number => node.opens.filter((t) => t > now - CHURN_WINDOW_MS).length

/** Per node: its peers, the core's replication sessions, the peers without one, its recent connection opens. */
function diagnose(nodes: readonly Node[]): string {
  const keys = new Map(nodes.map((n) => [hex(n.networker.publicKey), n.index]))
  const { adjacency, oneSided } = graphOf(nodes)
  const now = Date.now()
  const lines = nodes.map((node) => {
    const peers = node.networker.peers.map((p) => hex(p.remotePublicKey))
    const sessions = new Set(node.core.peers.map((p) => hex(p.remotePublicKey)))
    const silent = peers.filter((p) => !sessions.has(p)).map((p) => keys.get(p))
    return (
      `${node.index === 0 ? 'writer' : `reader ${node.index}`}: length ${node.core.contiguousLength}/${BLOCKS}, ` +
      `peers ${peers.length} [${peers.map((p) => keys.get(p)).join(',')}], core.peers ${node.core.peers.length}` +
      (silent.length > 0 ? `, no session with [${silent.join(',')}]` : '') +
      `, connections opened in the last ${CHURN_WINDOW_MS / 1000} s ${recentOpens(node, now)}`
    )
  })
  return `components ${JSON.stringify(components(adjacency))}, edges only one end lists ${oneSided}\n${lines.join('\n')}`
}

/** What a round found (logged as one JSON line). */
interface RoundResult {
  readonly round: number
  readonly join: 'at once' | 'one after another'
  readonly configuredMs: number
  readonly connectedMs: number | null
  readonly verifiedMs: number | null
  readonly readersVerified: number
  readonly components: number[]
  readonly peers: { min: number; max: number; nodesWith0: number; nodesWith1: number }
  /** Nodes whose `core.peers` is smaller than their peer count. */
  readonly sessionsShort: number
  readonly opens: { total: number; lastWindowMax: number }
  readonly failure: string | null
}

/** One round on a fresh network: the writer's data must reach every reader over a connected graph. */
async function round(h: Harness, n: number): Promise<RoundResult> {
  const sequential = JOIN === 'sequential' || (JOIN === 'alternate' && n % 2 === 0)
  const blocks = Array.from({ length: BLOCKS }, () => randomBytes(BLOCK_SIZE))
  const writerStore = h.store()
  const writerCore = writerStore.get({ name: 'log' })
  await writerCore.ready()
  await writerCore.append(blocks)

  const stores = Array.from({ length: NODES }, (_, index) => (index === 0 ? writerStore : h.store()))
  /** Odd readers open the core before joining, even ones once every node joined. */
  const opensEarly = (index: number): boolean => index % 2 === 1
  const cores: Array<Hypercore | null> = stores.map(() => null)
  const openCore = async (index: number): Promise<void> => {
    if (index === 0) {
      cores[0] = writerCore
      return
    }
    const core = stores[index].get({ key: writerCore.key as Buffer })
    await core.ready()
    // Readers download everything; done() rejects when the core closes at cleanup.
    core.download({ start: 0, end: BLOCKS }).done().catch(() => {})
    cores[index] = core
  }
  await Promise.all(stores.map((_, index) => (index === 0 || opensEarly(index) ? openCore(index) : null)))
  const networkers = stores.map((store) => h.networker(store, { maxPeers: MAX_PEERS, timeout: 2000 }))
  const opens = networkers.map((networker) => {
    const times: number[] = []
    networker.connections$.subscribe(({ type }) => {
      if (type === 'open') times.push(Date.now())
    })
    return times
  })

  let aboveMax = 0
  const started = Date.now()
  const configure = (networker: ReactiveNetworker): Promise<unknown> =>
    networker.configure(writerCore.discoveryKey as Buffer, { announce: true, lookup: true })
  if (sequential) for (const networker of networkers) await configure(networker)
  else await Promise.all(networkers.map(configure))
  const configured = Date.now() - started
  await Promise.all(stores.map((_, index) => (cores[index] === null ? openCore(index) : null)))
  const nodes: Node[] = networkers.map((networker, index) => ({ index, networker, core: cores[index] as Hypercore, opens: opens[index] }))
  const readers = nodes.slice(1)

  const done = new Set<number>()
  let connectedAt: number | null = null
  let failure: string | null = null
  let sizes: number[] = []
  for (;;) {
    for (const node of nodes) if (node.networker.peers.length > MAX_PEERS) aboveMax++
    for (const node of readers) if (!done.has(node.index) && (await verified(node.core, blocks))) done.add(node.index)
    sizes = components(graphOf(nodes).adjacency)
    const connected = sizes.length === 1
    if (connected && connectedAt === null) connectedAt = Date.now() - started
    if (done.size === readers.length && connected && aboveMax === 0) break
    if (Date.now() - started > ROUND_MS) {
      failure =
        `round ${n} (joined ${sequential ? 'one after another' : 'at once'}): after ${ROUND_MS} ms, ` +
        `readers without every block ${readers.length - done.size} of ${readers.length}, ` +
        `graph components ${JSON.stringify(sizes)}, samples of a node above maxPeers ${aboveMax}\n${diagnose(nodes)}`
      break
    }
    await sleep(100)
  }
  const now = Date.now()
  const peerCounts = nodes.map((node) => node.networker.peers.length)
  const result: RoundResult = {
    round: n,
    join: sequential ? 'one after another' : 'at once',
    configuredMs: configured,
    connectedMs: connectedAt,
    verifiedMs: failure === null ? now - started : null,
    readersVerified: done.size,
    components: sizes,
    peers: {
      min: Math.min(...peerCounts),
      max: Math.max(...peerCounts),
      nodesWith0: peerCounts.filter((c) => c === 0).length,
      nodesWith1: peerCounts.filter((c) => c === 1).length
    },
    sessionsShort: nodes.filter((node) => node.core.peers.length < node.networker.peers.length).length,
    opens: {
      total: opens.reduce((sum, times) => sum + times.length, 0),
      lastWindowMax: Math.max(...nodes.map((node) => recentOpens(node, now)))
    },
    failure
  }
  const { failure: _detail, ...line } = result
  console.log(JSON.stringify(line))
  return result
}

test(`a topic larger than maxPeers: ${NODES} networkers, maxPeers ${MAX_PEERS}, every reader gets all ${BLOCKS} blocks over a connected graph in each of ${ROUNDS} rounds`, async () => {
  const failures: string[] = []
  for (let n = 1; n <= ROUNDS; n++) {
    const h = await createHarness()
    try {
      const { failure } = await round(h, n)
      if (failure !== null) failures.push(failure)
    } finally {
      await h.cleanup()
    }
    if (failures.length > 0 && !KEEP_GOING) break
  }
  if (failures.length > 0) throw new Error(`${failures.length} failing round(s)\n${failures.join('\n\n')}`)
})
