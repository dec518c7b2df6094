/**
 * One test host: run inside a network namespace by the host suites (partition.hosts.test.ts) and
 * the hosts soak (soak.ts). Talks JSON lines: events on stdout, commands on stdin; closing stdin
 * closes the networker and the store, then exits.
 *
 *   host-process.ts bootstrap <address> [--nodes N]
 *   host-process.ts writer <address> <bootstrapHost:port> <storageDir> [flags]
 *   host-process.ts reader <address> <bootstrapHost:port> <storageDir> <coreKeyHex> [flags]
 *
 * `bootstrap` runs a private HyperDHT of N nodes (default 2): the bootstrap node and N − 1
 * persistent ones. Flags of writer and reader:
 *   --block-size B      blocks are `blockContent(i, B)` (default: the short `block i`)
 *   --join-on-command   prepare (store, core, key pair), say `prepared`, join on {"cmd":"join"}
 *   --report-timeouts   say `timeouts` every second (each peer's idle time-out and keep-alive)
 * Env `HOST_TIMEOUT`: the networker's `timeout` (default 2000). Env `HOST_MAX_PEERS`: `maxPeers`
 * (the networker's; Hyperswarm's on the bare stack; default: theirs, 64). Env `HOST_STACK=bare`: the bare
 * stack instead of a networker (`bare-node.ts`: Hyperswarm, Corestore and a Protomux probe);
 * with it, `HOST_BARE_KEEPALIVE=MS` sets that keep-alive on every bare connection (HyperDHT's own
 * is 5 s; a networker with `timeout: 2000` asks for 500 ms). Env `HOST_DIAL_LOG=1`: a `dial` event
 * {ok, ms} for every HyperDHT connect this host makes (`at` is when it started).
 *
 * Events (every one with `at`, Date.now() of this machine, so hosts' times compare):
 *   bootstrap {host, port} · prepared {publicKey, key} · ready {publicKey, key} (configure resolved)
 *   peers {keys} · peer-add|peer-remove|peer-swap {remote}
 *   conn-open {id, remote, initiator} · conn-close {id, remote, initiator, lived, read, written,
 *     error, errorAt, role, timeout, udx} · conn-error {remote, message, verdict}
 *   (`udx`: the UDX stream's rto count, retransmits, rtt, inflight, cwnd and packets received;
 *   `verdict`, for the idle watchdog's closes: the silence, budget, round-trip and stall allowances)
 *   blocks {verified, stored, duplicates, bad, hotswaps, length, senders} (readers; `at` is the last change;
 *     `hotswaps`: block requests Hypercore sent to a second or third peer while one was in flight;
 *     `senders`: blocks downloaded (first time) per sending host, so a run shows which readers got
 *     everything through other readers)
 *   duplicate {index, from, first, after} (a block downloaded again: from whom, first from whom, ms later)
 *   appending {from, count} · appended {length} · verified {ok, count, length}
 *   stats {whole, since, droppedByKernel, udp, dht, memory} (`udp`: this namespace's /proc/net/snmp UDP
 *     counters; `dht`: the DHT node's counters, `DhtCounters` in soak-report.ts: topic lookups and
 *     announces, FIND_PEER queries and dials, counted by wrapping this host's `dht.query` and
 *     `dht.connect`; `memory`: process.memoryUsage() in MiB) · snapshot {conns} · neterror {code, message} · error {message}
 * A connection's `id` is its Noise handshake hash (the same at both ends); `remote`, `keys` and
 * `from` name hosts by `shortKey` (16 hex characters of the public key); `role` at close: `current` (it was its peer's connection), `replaced` (the
 * peer had another connection: dedup dropped or replaced this one) or `unadmitted` (no peer);
 * `wasPeer` at close: it was the peer's connection at some moment; `held`: the `maxPeers` slots
 * this host held as it closed, its remote aside (peers, and remote keys of other open connections).
 *
 * Commands: append {from, count, size?} · verify {count} · join · stats · snapshot
 */
import b4a from 'b4a'
import Corestore from 'corestore'
import HyperDHT from 'hyperdht'
import fs from 'fs'
import readline from 'readline'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { monitorEventLoopDelay } from 'perf_hooks'
import { createLocalNetwork } from '../../lib/testnet'
import { ReactiveNetworker } from '../../lib/reactive-networker'
import type { Peer, PeerStream } from '../../lib/peer'
import { noiseOf } from '../kit/peers'
import { shortKey } from './keys'
import { BareNode, SoakNode } from './bare-node'
import { DhtCounters, LOOP_RESOLUTION_MS, loopDelayOf } from './soak-report'

/** At most one `blocks` event per this many ms (each carries the time of its last change). */
const BLOCKS_REPORT_MS = 200

/** HyperDHT's LOOKUP and FIND_PEER commands (hyperdht/lib/constants.js). */
const LOOKUP = 3
const FIND_PEER = 2

/** `HOST_MAX_PEERS`: `maxPeers` for the node (unset: the stack's default). */
const MAX_PEERS = process.env.HOST_MAX_PEERS === undefined || process.env.HOST_MAX_PEERS === '' ? undefined : Number(process.env.HOST_MAX_PEERS)

const [role, address, ...rest] = process.argv.slice(2)
const positional = rest.filter((arg, i) => !arg.startsWith('--') && !(rest[i - 1] ?? '').match(/^--(nodes|block-size)$/))
const flag = (name: string): boolean => rest.includes(name)
const value = (name: string): number | undefined => {
  const i = rest.indexOf(name)
  return i >= 0 ? Number(rest[i + 1]) : undefined
}
const [bootstrapArg, dir, keyHex] = positional

/** This namespace's UDP counters (/proc/net/snmp), e.g. RcvbufErrors: datagrams the kernel dropped. */
const udpCounters = (): Record<string, number> | null => {
  try {
    const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'))
    const [names, values] = lines.map((l) => l.split(/\s+/).slice(1))
    return Object.fromEntries(names.map((n, i) => [n, Number(values[i])]))
  } catch {
    return null
  }
}

const say = (event: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify({ ...event, at: event.at ?? Date.now() }) + '\n')
}

/** Block `i`: `block i` repeated to `size` bytes (without a size, just `block i`). */
function blockContent(i: number, size?: number): Buffer {
  const text = `block ${i}`
  if (size === undefined) return Buffer.from(text)
  return Buffer.alloc(size, `${text};`)
}

async function main(): Promise<void> {
  if (role === 'bootstrap') {
    const net = await createLocalNetwork({ size: value('--nodes') ?? 2, host: address })
    say({ event: 'bootstrap', host: address, port: net.bootstrap[0].port })
    readline.createInterface({ input: process.stdin }).on('close', () => {
      void net.destroy().then(() => process.exit(0))
    })
    return
  }

  const whole = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  const since = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  whole.enable()
  since.enable()

  const blockSize = value('--block-size')
  const [host, port] = bootstrapArg.split(':')
  const store = new Corestore(dir)
  const dht = new HyperDHT({ bootstrap: [{ host, port: Number(port) }], host: address, ephemeral: true, firewalled: false })
  // Hosts on one bridge reach each other directly: not firewalled (HyperDHT's holepunch path
  // for firewalled nodes opens connections that never carry data between namespaces).
  const counters = countDhtActivity(dht, process.env.HOST_DIAL_LOG === '1')
  const networker: SoakNode = process.env.HOST_STACK === 'bare' ? new BareNode(store, dht, MAX_PEERS) : networkerNode(store, dht)
  const hex = (key: Uint8Array): string => b4a.toString(key, 'hex')
  const udxOf = (stream: NoiseSecretStream): Record<string, number> | null => {
    const raw = stream.rawStream as unknown as Record<string, number> | null
    if (!raw || typeof raw.rtoCount !== 'number') return null
    return { rto: raw.rtoCount, retransmits: raw.retransmits, rtt: raw.rtt, inflight: raw.inflight, cwnd: raw.cwnd, packetsReceived: raw.packetsReceived }
  }

  // Every raw connection (before admission and dedup), and which one each peer rides on.
  const opened = new Map<PeerStream, { id: string; at: number; error: string | null; errorAt: number | null }>()
  const currentOf = new Map<string, PeerStream>()
  /** Connections that were some peer's at some moment. */
  const wasPeer = new WeakSet<PeerStream>()
  /** Slots held, `remote` aside: the peers' keys and those of other open connections. */
  const heldBesides = (remote: string, conn: PeerStream): number => {
    const keys = new Set(currentOf.keys())
    for (const other of opened.keys()) if (other !== conn) keys.add(shortKey(other.remotePublicKey))
    keys.delete(remote)
    return keys.size
  }
  let nextId = 0
  networker.connections$.subscribe(({ type, connection }) => {
    const stream = connection as unknown as NoiseSecretStream
    const remote = shortKey(connection.remotePublicKey)
    if (type === 'open') {
      const id = stream.handshakeHash ? hex(stream.handshakeHash).slice(0, 24) : `local-${process.pid}-${nextId++}`
      const entry = { id, at: Date.now(), error: null as string | null, errorAt: null as number | null }
      opened.set(connection, entry)
      stream.on('error', (err: Error & { silence?: number; budget?: number; rtt?: number; lag?: number; remoteLag?: number }) => {
        entry.error = err.message
        entry.errorAt = Date.now()
        const { silence, budget, rtt, lag, remoteLag } = err
        say({ event: 'conn-error', remote, message: err.message, verdict: silence === undefined ? undefined : { silence, budget, rtt, lag, remoteLag, udx: udxOf(stream) } })
      })
      say({ event: 'conn-open', id, remote, initiator: connection.isInitiator })
      return
    }
    const entry = opened.get(connection)
    const held = heldBesides(remote, connection)
    opened.delete(connection)
    const current = currentOf.get(remote)
    say({
      event: 'conn-close',
      id: entry?.id,
      remote,
      initiator: connection.isInitiator,
      lived: entry === undefined ? null : Date.now() - entry.at,
      read: stream.rawBytesRead,
      written: stream.rawBytesWritten,
      error: entry?.error ?? null,
      errorAt: entry?.errorAt ?? null,
      role: current === connection ? 'current' : current !== undefined ? 'replaced' : 'unadmitted',
      wasPeer: wasPeer.has(connection),
      held,
      timeout: stream.timeout,
      udx: udxOf(stream)
    })
  })

  let current: readonly Peer[] = []
  networker.peers$.subscribe((peers) => {
    current = peers
    say({ event: 'peers', keys: peers.map((p) => shortKey(p.remotePublicKey)) })
  })
  if (flag('--report-timeouts')) {
    // Diagnostics: the time-out and keep-alive armed on each peer's current connection.
    setInterval(() => {
      say({ event: 'timeouts', peers: current.map((p) => [shortKey(p.remotePublicKey), noiseOf(p).timeout, noiseOf(p).keepAlive]) })
    }, 1000).unref()
  }
  networker.errors$.subscribe((err) => say({ event: 'neterror', code: err.code, message: err.message }))
  networker.peerEvents$.subscribe(({ type, peer }) => {
    const remote = shortKey(peer.remotePublicKey)
    if (type === 'remove') currentOf.delete(remote)
    else {
      currentOf.set(remote, peer.stream)
      wasPeer.add(peer.stream)
    }
    say({ event: 'peer-' + type, remote })
  })

  const core = role === 'writer' ? store.get({ name: 'hosts' }) : store.get({ key: Buffer.from(keyHex, 'hex') })
  await core.ready()
  if (role === 'reader') {
    await trackBlocks(core, blockSize)
    core.download({ start: 0, end: -1 })
  }
  const publicKey = hex((await networker.loadKeyPair()).publicKey)
  const key = hex(core.key as Buffer)

  const join = async (): Promise<void> => {
    say({ event: 'joining' })
    await networker.join(core.discoveryKey as Buffer)
    say({ event: 'ready', publicKey, key })
  }

  const commands = readline.createInterface({ input: process.stdin })
  commands.on('line', (line) => {
    const command = JSON.parse(line) as { cmd: string; from?: number; count?: number; size?: number }
    void (async () => {
      if (command.cmd === 'join') {
        await join()
      } else if (command.cmd === 'append') {
        const from = command.from ?? 0
        const blocks = Array.from({ length: command.count ?? 0 }, (_, i) => blockContent(from + i, command.size))
        say({ event: 'appending', from, count: blocks.length })
        await core.append(blocks)
        say({ event: 'appended', length: core.length })
      } else if (command.cmd === 'verify') {
        const count = command.count ?? 0
        let ok = 0
        for (let i = 0; i < count; i++) {
          const block = await core.get(i, { timeout: 15_000 })
          if (block !== null && b4a.equals(block, blockContent(i, blockSize))) ok++
        }
        say({ event: 'verified', ok, count, length: core.length })
      } else if (command.cmd === 'stats') {
        const udx = (dht as unknown as { udx?: { packetsDroppedByKernel?: number } }).udx
        const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10
        const m = process.memoryUsage()
        say({
          event: 'stats',
          whole: loopDelayOf(whole),
          since: loopDelayOf(since),
          droppedByKernel: udx?.packetsDroppedByKernel ?? null,
          udp: udpCounters(),
          dht: counters(),
          memory: { rss: mib(m.rss), heapUsed: mib(m.heapUsed), heapTotal: mib(m.heapTotal), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) }
        })
        since.reset()
      } else if (command.cmd === 'snapshot') {
        const now = Date.now()
        const conns = [...opened].map(([conn, entry]) => {
          const stream = conn as unknown as NoiseSecretStream
          return {
            id: entry.id,
            remote: shortKey(conn.remotePublicKey),
            age: now - entry.at,
            read: stream.rawBytesRead,
            written: stream.rawBytesWritten,
            current: currentOf.get(shortKey(conn.remotePublicKey)) === conn
          }
        })
        say({ event: 'snapshot', conns })
      }
    })().catch((err: unknown) => say({ event: 'error', message: String(err) }))
  })
  commands.on('close', () => {
    void (async () => {
      await networker.close()
      await store.close()
      process.exit(0)
    })()
  })

  if (flag('--join-on-command')) say({ event: 'prepared', publicKey, key })
  else await join()
}

/** The networker as a soak node: `timeout` from `HOST_TIMEOUT` (default 2000), quick relookups. */
function networkerNode(store: Corestore, dht: HyperDHT): SoakNode {
  const networker = new ReactiveNetworker(store, {
    dht,
    timeout: Number(process.env.HOST_TIMEOUT ?? 2000),
    relookupBackoff: [500, 1000, 2000],
    ...(MAX_PEERS === undefined ? {} : { maxPeers: MAX_PEERS })
  })
  return {
    connections$: networker.connections$,
    peers$: networker.peers$,
    peerEvents$: networker.peerEvents$,
    errors$: networker.errors$,
    loadKeyPair: () => networker.loadKeyPair(),
    join: (discoveryKey) => networker.configure(discoveryKey, { announce: true, lookup: true }),
    close: () => networker.close()
  }
}

/**
 * Counts what this host's DHT node does for the topic, from outside the library: every query
 * HyperDHT starts goes through `dht.query` (Hyperswarm's `lookup`, `announce` and `unannounce` of
 * a topic are LOOKUP queries, the last two with a commit, counted as `announces`; a dial to a remote whose address is not
 * known yet starts with a FIND_PEER query), and every dial through `dht.connect`. The routing
 * table's own refreshes bypass `query` and show only in `dht.stats.queries.total`. With `log`,
 * also a `dial` event {ok, ms} for every dial (`at`: when it started).
 */
function countDhtActivity(dht: HyperDHT, log: boolean): () => DhtCounters {
  const counts = { lookups: 0, announces: 0, findPeers: 0, dials: 0, dialsFailed: 0 }
  const node = dht as unknown as {
    query: (q: { command: number }, opts?: { commit?: unknown }) => unknown
    connect: (...args: unknown[]) => NoiseSecretStream
    stats?: { queries?: { total?: number } }
  }
  const query = node.query.bind(node)
  node.query = (q, opts) => {
    if (q.command === LOOKUP) {
      counts.lookups++
      if (opts?.commit !== undefined) counts.announces++
    } else if (q.command === FIND_PEER) counts.findPeers++
    return query(q, opts)
  }
  const connect = node.connect.bind(node)
  node.connect = (...args: unknown[]): NoiseSecretStream => {
    const started = Date.now()
    counts.dials++
    const stream = connect(...args)
    let opened = false
    stream.once('open', () => {
      opened = true
      if (log) say({ event: 'dial', ok: true, ms: Date.now() - started, at: started })
    })
    stream.once('close', () => {
      if (opened) return
      counts.dialsFailed++
      if (log) say({ event: 'dial', ok: false, ms: Date.now() - started, at: started })
    })
    return stream
  }
  return () => ({ at: Date.now(), pid: process.pid, ...counts, queries: node.stats?.queries?.total ?? 0 })
}

/**
 * A reader checks every block it holds or downloads against `blockContent`, and counts each
 * index once: a second download of an index is a duplicate, a mismatch is bad. Blocks already
 * in storage (a restarted host) are checked first and counted as `stored`.
 */
async function trackBlocks(core: Corestore.Hypercore, size: number | undefined): Promise<void> {
  const seen = new Set<number>()
  const counts = { verified: 0, stored: 0, duplicates: 0, bad: 0 }
  let changed = Date.now()
  let timer: NodeJS.Timeout | null = null
  // Hypercore asks a second (third) peer for a block already in flight when another peer is
  // idle ("hotswap"); both answers are verified and each fires 'download'.
  const replicator = (core as unknown as { replicator?: { stats?: { hotswaps?: number } } }).replicator
  const hotswaps = (): number | null => replicator?.stats?.hotswaps ?? null
  const sayBlocks = (): void => say({ event: 'blocks', ...counts, hotswaps: hotswaps(), length: core.length, senders, at: changed })
  const report = (): void => {
    timer ??= setTimeout(() => {
      timer = null
      sayBlocks()
    }, BLOCKS_REPORT_MS)
  }
  const check = (block: Buffer | null, index: number): boolean => block !== null && b4a.equals(block, blockContent(index, size))
  for (let i = 0; i < core.length; i++) {
    if (!(await core.has(i))) continue
    seen.add(i)
    if (check(await core.get(i, { wait: false }), i)) counts.stored++
    else counts.bad++
  }
  // Who sent each block first, to show where a duplicate came from (the first 50 are reported).
  const firstFrom = new Map<number, { from: string; at: number }>()
  // Blocks per sender (first downloads only): did this reader get them from the writer or through others?
  const senders: Record<string, number> = {}
  core.on('download', (index: number, _bytes: number, from: { remotePublicKey?: Uint8Array } | null) => {
    const sender = from?.remotePublicKey ? shortKey(from.remotePublicKey) : 'unknown'
    if (seen.has(index)) {
      counts.duplicates++
      changed = Date.now()
      const first = firstFrom.get(index)
      if (counts.duplicates <= 50) say({ event: 'duplicate', index, from: sender, first: first?.from ?? 'storage', after: first ? Date.now() - first.at : null })
      report()
      return
    }
    seen.add(index)
    firstFrom.set(index, { from: sender, at: Date.now() })
    senders[sender] = (senders[sender] ?? 0) + 1
    void core.get(index, { timeout: 10_000 }).then(
      (block) => {
        if (check(block, index)) counts.verified++
        else counts.bad++
        changed = Date.now()
        report()
      },
      () => {
        counts.bad++
        report()
      }
    )
  })
  sayBlocks()
}

main().catch((err: unknown) => {
  say({ event: 'error', message: String(err) })
  process.exit(1)
})
