/**
 * The hosts soak (tracker issue 13): `npm run soak:hosts -- --hosts N [options]` (root: it builds
 * network namespaces). N namespace hosts on one bridge, each its own process with its own
 * Corestore and ReactiveNetworker, plus a private HyperDHT (a bootstrap and two persistent nodes)
 * in a namespace of its own; one writer and N − 1 readers mesh on one topic. Phases:
 *
 * 1. mesh: every host joins at the same instant; time until every host has N − 1 peers (a full
 *    mesh) or, with `--max-peers K` below N − 1 (a partial mesh), until every host has between
 *    `minPeersFor(K)` and K peers and the graph of connections is connected (its diameter reported);
 * 1b. steady: nothing happens for `--steady` s; DHT lookups and dials per host per minute are
 *    counted (and the graph must stay connected);
 * 2. replicate: the writer appends B blocks; every reader verifies each block exactly once,
 *    whether it is connected to the writer or gets the blocks through other readers;
 * 3. cut: 20% of the readers lose their link at the switch for 5 s (the writer appends E more
 *    meanwhile), then it comes back; time until the mesh is full again and they caught up;
 * 4. kill: 20% of the readers (others than the cut ones) are SIGKILLed (the writer appends E
 *    more), then restarted on the same storage; time until the mesh is full again and the
 *    restarted readers hold every block.
 *
 * It prints a table, writes `bench/results/soak-hosts-N.json` and exits non-zero (with the
 * reasons) unless the mesh was full (partial: within its bounds and connected) after each phase
 * within `--cap`, every block was verified exactly once by every reader, (with
 * `--max-healthy-drops K`) at most K healthy connections were dropped, and (with
 * `--max-lookups-per-min X` / `--max-dials-per-min Y`) no host looked up or dialled more than that
 * in the steady state. A global `--deadline` stops the whole run; namespaces, processes and temp dirs
 * are removed on every exit, Ctrl-C included. See docs/scaling.md.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { monitorEventLoopDelay } from 'perf_hooks'
import { machine } from '../../bench/report'
import { Host, HostEvent, HostLauncher } from './host'
import { shortKey } from './keys'
import { createTopology, Topology } from './netns'
import {
  Activity,
  ActivitySummary,
  ConnClose,
  ConnOpen,
  ConnOpenAtEnd,
  ConnectionAnalysis,
  DegreeBounds,
  DhtCounters,
  Disturbance,
  LOOP_RESOLUTION_MS,
  LoopDelay,
  MeshCheck,
  PhaseMark,
  activityPerMinute,
  analyseConnections,
  checkPartialMesh,
  distancesFrom,
  meshProgress,
  meshTimeline,
  minPeersFor,
  mutualGraph,
  loopDelayOf,
  loopDelaySummary,
  seconds,
  summarizeActivity,
  table,
  thousands
} from './soak-report'

const ROOT = path.join(__dirname, '../..')
/** `maxPeers` when none is given: Hyperswarm's default, which the networker keeps. */
const STACK_MAX_PEERS = 64
const USAGE = `usage: npm run soak:hosts -- --hosts N [options]    (or --smoke: 5 hosts, small, writes nothing)
  --hosts N               hosts besides the DHT: one writer and N − 1 readers (2 to 200)
  --blocks B              blocks the writer appends in phase 2 (default 200)
  --block-size BYTES      size of each block (default 1024)
  --extra-blocks E        blocks appended during the cut and again during the kill (default B / 4)
  --timeout MS            every networker's timeout (default 2000)
  --max-peers K           every host's maxPeers (the networker's; Hyperswarm's on the bare stack).
                          Below N − 1 the mesh is partial: the mesh criterion becomes every host
                          between min(K, max(2, ceil(K/3))) and K peers and the graph of connections
                          (edges both ends list) connected; its diameter is reported
  --steady S              the steady window after the mesh: S s in which nothing happens, DHT lookups
                          and dials are counted per host per minute and the graph must stay
                          connected (default 30; smoke 5)
  --max-lookups-per-min X fail if a host made more than X DHT topic lookups (announces included)
                          per minute in the steady window
  --max-dials-per-min Y   fail if a host dialled more than Y times per minute in the steady window
  --bare                  the bare stack instead of networkers, to compare (Hyperswarm + Corestore
                          + a Protomux probe channel: a peer once the probe is open at both ends;
                          no time-out but UDX's, no repair); default JSON soak-hosts-N-bare.json
  --fraction F            share of the hosts cut, and killed (default 0.2; at least one reader)
  --cut-ms MS             how long the cut lasts (default 5000)
  --cap S                 each wait for a full mesh (and for detection) gives up after S s
                          (default max(60, N))
  --verify-cap S          each wait for every reader to hold every block gives up after S s
                          (default max(180, 2N))
  --deadline S            the whole run stops after S s (default: every cap and the steady window
                          summed, plus 2 s a host and 2 min: 900 s at 20 hosts, 1,250 s at 100; smoke 90)
  --max-healthy-drops K   fail if more than K healthy connections were dropped
  --out FILE              write the JSON there (default bench/results/soak-hosts-N[-kK][-bare].json,
                          -kK for a partial mesh)
  --no-write              write no JSON
  --logs DIR              write every host's events (JSON lines) and stderr into DIR`

interface Options {
  readonly hosts: number
  readonly blocks: number
  readonly blockSize: number
  readonly extraBlocks: number
  readonly timeout: number
  /** Every host's maxPeers; null: the stack's default (64). */
  readonly maxPeers: number | null
  readonly steadyMs: number
  readonly maxLookupsPerMin: number | null
  readonly maxDialsPerMin: number | null
  readonly fraction: number
  readonly cutMs: number
  readonly capMs: number
  readonly verifyCapMs: number
  readonly deadlineMs: number
  readonly maxHealthyDrops: number | null
  readonly smoke: boolean
  readonly bare: boolean
  readonly out: string | null
  readonly logs: string | null
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Options {
  const values = new Map<string, string>()
  const flags = new Set<string>()
  const withValue = [
    '--hosts',
    '--blocks',
    '--block-size',
    '--extra-blocks',
    '--timeout',
    '--max-peers',
    '--steady',
    '--max-lookups-per-min',
    '--max-dials-per-min',
    '--fraction',
    '--cut-ms',
    '--cap',
    '--verify-cap',
    '--deadline',
    '--max-healthy-drops',
    '--out',
    '--logs'
  ]
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split(/=(.*)/s, 2)
    if (withValue.includes(name)) {
      const value = inline ?? argv[++i]
      if (value === undefined) throw new UsageError(`${name} needs a value`)
      values.set(name, value)
    } else if (['--smoke', '--bare', '--no-write', '--help', '-h'].includes(name)) flags.add(name)
    else throw new UsageError(`unknown option "${argv[i]}"`)
  }
  if (flags.has('--help') || flags.has('-h')) {
    console.log(USAGE)
    process.exit(0)
  }
  const smoke = flags.has('--smoke')
  const number = (name: string, fallback: number, ok: (n: number) => boolean): number => {
    const raw = values.get(name)
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isFinite(n) || !ok(n)) throw new UsageError(`${name}: "${raw}" is out of range`)
    return n
  }
  const int = (n: number): boolean => Number.isInteger(n) && n >= 0
  if (!smoke && !values.has('--hosts')) throw new UsageError('--hosts N is required (or --smoke)')
  const hosts = number('--hosts', 5, (n) => int(n) && n >= 2 && n <= 200)
  const blocks = number('--blocks', smoke ? 50 : 200, (n) => int(n) && n >= 1)
  const write = !smoke && !flags.has('--no-write')
  const bare = flags.has('--bare')
  const maxPeers = values.has('--max-peers') ? number('--max-peers', 0, (n) => int(n) && n >= 1) : null
  const partial = maxPeers !== null && maxPeers < hosts - 1
  const capMs = number('--cap', Math.max(60, hosts), (n) => n > 0) * 1000
  const verifyCapMs = number('--verify-cap', Math.max(180, 2 * hosts), (n) => n > 0) * 1000
  const steadyMs = number('--steady', smoke ? 5 : 30, (n) => n >= 0) * 1000
  // Three waits for the mesh and three for the blocks (mesh/replicate, cut, kill), the steady
  // window, the processes' start (a second or two each on a busy machine) and two minutes.
  const deadlineMs = number('--deadline', smoke ? 90 : Math.round((3 * capMs + 3 * verifyCapMs + steadyMs) / 1000 + 2 * hosts + 120), (n) => n > 0) * 1000
  const suffix = `${partial ? `-k${maxPeers}` : ''}${bare ? '-bare' : ''}`
  if (steadyMs === 0 && (values.has('--max-lookups-per-min') || values.has('--max-dials-per-min'))) {
    throw new UsageError('--max-lookups-per-min and --max-dials-per-min are read in the steady window: not with --steady 0')
  }
  return {
    hosts,
    blocks,
    blockSize: number('--block-size', 1024, (n) => int(n) && n >= 16 && n <= 1 << 20),
    extraBlocks: number('--extra-blocks', Math.max(1, Math.floor(blocks / 4)), int),
    timeout: number('--timeout', 2000, (n) => int(n) && (n === 0 || n >= 100)),
    maxPeers,
    steadyMs,
    maxLookupsPerMin: values.has('--max-lookups-per-min') ? number('--max-lookups-per-min', 0, (n) => n >= 0) : null,
    maxDialsPerMin: values.has('--max-dials-per-min') ? number('--max-dials-per-min', 0, (n) => n >= 0) : null,
    fraction: number('--fraction', 0.2, (n) => n > 0 && n < 1),
    cutMs: number('--cut-ms', 5000, int),
    capMs,
    verifyCapMs,
    deadlineMs,
    maxHealthyDrops: values.has('--max-healthy-drops') ? number('--max-healthy-drops', 0, int) : null,
    smoke,
    bare,
    out: write ? path.resolve(values.get('--out') ?? path.join(ROOT, 'bench', 'results', `soak-hosts-${hosts}${suffix}.json`)) : null,
    logs: values.has('--logs') ? path.resolve(values.get('--logs') as string) : null
  }
}

/** The global deadline passed: the run stops where it is and reports what it has. */
class DeadlineError extends Error {}

/** Everything the run creates, released by `release()` on every way out. */
const resources: { launcher: HostLauncher | null; topology: Topology | null; workDir: string | null } = {
  launcher: null,
  topology: null,
  workDir: null
}

/** Synchronous, idempotent: SIGKILL every host, delete the namespaces and the temp dir. */
function releaseNow(): void {
  resources.launcher?.killAllNow()
  resources.topology?.destroy()
  resources.topology = null
  if (resources.workDir !== null) fs.rmSync(resources.workDir, { recursive: true, force: true })
  resources.workDir = null
}

/** The clean way: hosts close their networkers and stores (SIGKILL after a grace), then as above. */
async function release(): Promise<void> {
  await resources.launcher?.stopAll()
  releaseNow()
}

const log = (line: string): void => {
  const t = new Date().toISOString().slice(11, 19)
  process.stdout.write(`[${t}] ${line}\n`)
}

/** One of the N hosts, across its restarts. */
class SoakHost {
  readonly generations: Host[] = []
  key = ''
  /** Its process is meant to be running (false while killed). */
  up = true
  stderr = ''

  constructor(
    readonly index: number,
    readonly name: string,
    readonly role: 'writer' | 'reader',
    readonly args: readonly string[]
  ) {}

  get proc(): Host {
    return this.generations[this.generations.length - 1]
  }

  get peers(): readonly string[] {
    return this.up && !this.proc.exited ? this.proc.peers : []
  }

  /** Time of its latest `peers` event. */
  get peersChangedAt(): number {
    return this.proc.latest.get('peers')?.at ?? 0
  }

  /** Blocks it holds, each verified (readers): from its latest `blocks` event. */
  get held(): number {
    const e = this.proc.latest.get('blocks')
    return e === undefined ? 0 : Number(e.verified) + Number(e.stored)
  }

  /** When its current process first held `count` verified blocks. */
  heldAt(count: number): number | null {
    return this.proc.find((ev) => ev.event === 'blocks' && Number(ev.verified) + Number(ev.stored) >= count)?.at ?? null
  }

  /** Every event of every generation. */
  allEvents(): HostEvent[] {
    return this.generations.flatMap((g) => g.events)
  }
}

/** One reader's blocks over the run (its restarts summed): held at the end, downloaded again, bad. */
interface ReaderBlocks {
  have: number
  duplicates: number
  hotswaps: number
  unexplained: number
  bad: number
}

/** The graph of connections at a moment (hosts by name): `MeshCheck` for the JSON. */
interface GraphState {
  ok: boolean
  connected: boolean
  components: readonly number[]
  diameter: number | null
  degrees: MeshCheck['degrees']
  belowMin: string[]
  aboveMax: string[]
  oneSided: number
}

interface PhaseResult {
  /**
   * ms from the phase's start (join, restore, restart) until the mesh was full (partial: every
   * host within its bounds and the graph connected); null: never within the cap.
   */
  meshMs: number | null
  /** Partial mesh: the graph when the wait ended. */
  graph?: GraphState
  /** Partial mesh, mesh phase: ms from the join until the graph was first connected, every host first within the bounds, both (`meshTimeline`). */
  timeline?: { connectedMs: number | null; boundsMs: number | null; bothMs: number | null }
  /** DHT lookups, dials… per host per minute over the phase (from the previous reading to this phase's end). */
  activity?: ActivitySummary
  /** The span those rates are over (ms, median host): a short phase's rates are a few events scaled up. */
  activityWindowMs?: number
  /** ms until every reader held every block so far; null: not within the cap. */
  blocksMs: number | null
  /** Fewest peers of any host when the wait ended. */
  fewestPeers: number
  /** mesh: ms from the join until the hosts' peers made 50%, 90%, 99% of all pairs (`meshProgress`). */
  meshShares?: Record<string, number | null>
  /** Pairs not connected at both ends when the wait ended (the first 50). */
  missingPairs: string[]
  /** Per cut/killed host: ms until every other host dropped it (null: not all did). */
  detectionMs?: Record<string, number | null>
  /** The hosts cut or killed. */
  hosts?: string[]
  /** Event-loop delay during the phase, over all hosts (ms). */
  loopDelay?: { p99Max: number; max: number }
  /** cut: how long the links were down, and how long each `ip` call took (ms). */
  cutMs?: number
  ipMs?: { down: number; up: number }
}

/** The steady window: nothing happens; how busy the hosts' DHT nodes are, and whether the graph holds. */
interface SteadyResult {
  readonly ms: number
  /** Per host per minute over the window, and the summary (median, most, busiest host). */
  readonly perHost: Record<string, Activity>
  readonly activity: ActivitySummary
  /** Samples of the graph (every 100 ms): how many, how many found it split, the longest split (ms). */
  readonly samples: number
  readonly splitSamples: number
  readonly longestSplitMs: number
  /** Samples where the mesh criterion (full, or partial bounds + connected) did not hold. */
  readonly offSamples: number
  readonly graphAtEnd: GraphState
}

/** Readers and the writer: where the replicated blocks came from. */
interface RelayResult {
  /** Readers with no connection (both ends) to the writer when the append started, by hops from it ("unreachable": no path). */
  readonly notAdjacentAtAppend: number
  readonly byDistance: Record<string, number>
  /** Of those, how many held every block by the end of the replicate phase. */
  readonly notAdjacentVerified: number
  /** Readers that downloaded none of the replicate phase's blocks from the writer itself. */
  readonly nothingFromWriter: number
  /** Share of all first downloads (every reader, every block) sent by the writer itself. */
  readonly fromWriterShare: number | null
}

interface SoakResult {
  readonly kind: 'soak-hosts'
  readonly hosts: number
  /** `maxPeers` of every host (null: the default, 64), and the bounds of a partial mesh (null: a full mesh is the criterion). */
  readonly maxPeers: number | null
  readonly partial: DegreeBounds | null
  readonly smoke: boolean
  readonly startedAt: string
  readonly durationMs: number
  readonly machine: ReturnType<typeof machine>
  readonly loadAverageAtEnd: readonly number[]
  readonly options: Omit<Options, 'out' | 'logs' | 'smoke'>
  readonly setupMs: { namespaces: number; processes: number }
  /** Host indices (as in `connections`) to names. */
  readonly hostNames: Record<number, string>
  readonly phases: Record<string, PhaseResult>
  /** When each phase started (Date.now() of this machine, as in the hosts' events and logs). */
  readonly marks: readonly PhaseMark[]
  readonly blocks: {
    readonly total: number
    readonly perReader: Record<string, ReaderBlocks>
    /** Downloads of a block the reader already had; `hotswaps`: Hypercore's re-requests to another peer. */
    readonly duplicates: number
    readonly hotswaps: number
    /** Duplicates beyond the hotswaps (per process): not explained by Hypercore's own re-requests. */
    readonly unexplained: number
    readonly bad: number
    readonly lost: number
  }
  readonly connections: ConnectionAnalysis | null
  readonly fewestPeersAtEnd: { peers: number; of: number; host: string } | null
  /** The most peers any host listed at any moment of the run (a `peers` event), and which host. */
  readonly mostPeersSeen: { peers: number; host: string } | null
  readonly steady: SteadyResult | null
  readonly relay: RelayResult | null
  /** Each host's memory at the end (MiB, process.memoryUsage()), and the sums over the hosts. */
  readonly memory: {
    readonly hosts: Record<string, { rss: number; heapUsed: number }>
    readonly rss: { median: number; max: number; total: number }
    readonly heapUsed: { median: number; max: number; total: number }
    /** Each host's largest RSS at any phase's end (a restarted host: either process). */
    readonly peakRss: { median: number; max: number; total: number }
    /** The machine's memory when the run ended (MiB). */
    readonly machineTotal: number
    readonly machineFreeAtEnd: number
  }
  /** Each host's DHT activity over its last process's life (counters at the end). */
  readonly dhtTotals: Record<string, DhtCounters>
  readonly loopDelay: {
    summary: ReturnType<typeof loopDelaySummary>
    hosts: Record<string, LoopDelay>
    /** The runner's own, from the join to the end, and its stalls of a second or more. */
    runner: LoopDelay
    runnerStalls: ReadonlyArray<{ at: number; ms: number; doing: string }>
  }
  readonly networkerErrors: Record<string, number>
  readonly hostErrors: string[]
  readonly failures: string[]
  readonly passed: boolean
  /** The line for the docs/scaling.md table. */
  readonly row: string
}

/** The runner's own event-loop delay: when it lags, its clock for cuts and waits lags too. */
const runnerLoop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })

/** The runner's stalls of a second or more, and what it was doing (set around its blocking calls). */
const stalls: Array<{ at: number; ms: number; doing: string }> = []
let doing = 'waiting'
function watchStalls(): () => void {
  let last = Date.now()
  let during = doing
  const timer = setInterval(() => {
    const now = Date.now()
    if (now - last >= 1100) stalls.push({ at: last, ms: now - last - 100, doing: during })
    last = now
    during = doing
  }, 100)
  return () => clearInterval(timer)
}

/** Runs a blocking call under a label for `stalls`; returns its duration (ms). */
function timed(label: string, fn: () => void): number {
  const start = Date.now()
  doing = label
  try {
    fn()
  } finally {
    doing = 'waiting'
  }
  return Date.now() - start
}

/**
 * The runner is the measuring instrument: it cuts and restores links and reads the clock. On a
 * saturated machine (50 hosts on 2 cores, with other work) a runner at the usual priority was
 * runnable but not running for up to 18 s, so a 5 s cut lasted 15–20 s. It raises its own
 * priority by 10 (as root) and starts the hosts (and the DHT) at the priority it had.
 */
const hostPriority = os.getPriority()
const RUNNER_BOOST = 10

async function soak(opts: Options, startedAt: number, atStart: ReturnType<typeof machine>): Promise<SoakResult> {
  const deadlineAt = startedAt + opts.deadlineMs
  const failures: string[] = []
  const phases: Record<string, PhaseResult> = {}
  const marks: PhaseMark[] = []
  const disturbances: Disturbance[] = []
  const hosts: SoakHost[] = []
  const n = opts.hosts
  let total = 0
  let current = 'setup'
  const setupMs = { namespaces: 0, processes: 0 }

  /** Polls `condition` every 100 ms: true when it held, false after `capMs`; throws at the global deadline. */
  const waitFor = async (condition: () => boolean, capMs: number): Promise<boolean> => {
    const giveUp = Date.now() + capMs
    for (;;) {
      if (condition()) return true
      if (Date.now() >= deadlineAt) throw new DeadlineError(`the global deadline (${opts.deadlineMs / 1000} s) passed during ${current}`)
      if (Date.now() >= giveUp) return false
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const sleep = async (ms: number): Promise<void> => {
    const until = Date.now() + ms
    await waitFor(() => Date.now() >= until, ms + 1000)
  }
  const event = async (host: SoakHost, match: (e: HostEvent) => boolean, capMs: number, what: string, since = 0): Promise<HostEvent> => {
    let found: HostEvent | undefined
    const ok = await waitFor(() => (found = host.proc.find(match, since)) !== undefined || host.proc.exited, capMs)
    if (!ok || found === undefined) throw new Error(`${host.name}: no ${what} within ${capMs / 1000} s${host.proc.exited ? ' (it exited)' : ''}; stderr: ${host.stderr.slice(-500)}`)
    return found
  }

  const keys = (): Set<string> => new Set(hosts.map((h) => h.key))
  const fullMesh = (): boolean => {
    const all = keys()
    return hosts.every((h) => {
      const peers = h.peers
      return h.up && peers.length === n - 1 && new Set(peers).size === n - 1 && peers.every((k) => k !== h.key && all.has(k))
    })
  }
  const fewest = (): { peers: number; host: string } =>
    hosts.reduce((low, h) => (h.peers.length < low.peers ? { peers: h.peers.length, host: h.name } : low), { peers: Infinity, host: '' })
  const readers = (): SoakHost[] => hosts.filter((h) => h.role === 'reader')
  const allHold = (count: number): boolean => readers().every((h) => h.up && h.held >= count)
  const missingPairs = (): string[] => {
    const out: string[] = []
    for (const [i, a] of hosts.entries()) {
      for (const b of hosts.slice(i + 1)) {
        if (!a.peers.includes(b.key) || !b.peers.includes(a.key)) out.push(`${a.name}–${b.name}`)
      }
    }
    return out.slice(0, 50)
  }
  /** A partial mesh's bounds (null: the criterion is the full mesh). Without `--max-peers`, the stacks' default. */
  const degreeLimit = opts.maxPeers ?? STACK_MAX_PEERS
  const partial: DegreeBounds | null = degreeLimit < n - 1 ? { min: minPeersFor(degreeLimit), max: degreeLimit } : null
  /** The graph of connections now (hosts in `hosts` order; a host not running lists no peers). */
  const check = (): MeshCheck => checkPartialMesh(hosts.map((h) => h.key), hosts.map((h) => h.peers), partial ?? { min: n - 1, max: n - 1 })
  const graphState = (c: MeshCheck = check()): GraphState => ({
    ...c,
    belowMin: c.belowMin.map((i) => hosts[i].name),
    aboveMax: c.aboveMax.map((i) => hosts[i].name)
  })
  /** The mesh criterion: a full mesh, or (partial) every host within its bounds and the graph connected. */
  const meshOk = (): boolean => (partial === null ? fullMesh() : check().ok)
  const describeGraph = (g: GraphState): string => {
    const list = (names: readonly string[]): string => `${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`
    return (
      `graph ${g.connected ? `connected, diameter ${g.diameter}` : `SPLIT into ${g.components.length} (sizes ${g.components.join(', ')})`}; ` +
      `peers per host ${g.degrees.min}–${g.degrees.max} (median ${g.degrees.median})` +
      (g.belowMin.length > 0 ? `; ${g.belowMin.length} below ${partial?.min ?? n - 1} (${list(g.belowMin)})` : '') +
      (g.aboveMax.length > 0 ? `; ${g.aboveMax.length} above ${partial?.max ?? n - 1} (${list(g.aboveMax)})` : '') +
      (g.oneSided > 0 ? `; ${g.oneSided} one-sided` : '')
    )
  }
  const describeMesh = (): string => {
    if (partial !== null) return describeGraph(graphState())
    const low = fewest()
    const short = hosts.filter((h) => h.peers.length < n - 1).length
    return `${short} of ${n} hosts short of ${n - 1} peers, fewest ${low.peers} (${low.host})`
  }

  /** Each host's last DHT counters read (by name): where the next reading's rates start. */
  const lastDht = new Map<string, DhtCounters>()
  /** Each host's largest RSS at any reading (MiB). */
  const peakRss: Record<string, number> = {}
  /** A host answers a `stats` command within this (a busy host on a saturated machine takes seconds). */
  const statsCapMs = 10_000 + n * 100
  /**
   * Every running host's stats: event-loop delay since the last call (the `since` histogram of
   * each host: the worst p99 and max), and DHT activity per host per minute since the last reading.
   */
  const readStats = async (): Promise<{
    loopDelay: { p99Max: number; max: number }
    perHost: Record<string, Activity>
    activity: ActivitySummary
    windowMs: number
  }> => {
    const live = hosts.filter((h) => h.up && !h.proc.exited)
    const marksAt = live.map((h) => h.proc.events.length)
    live.forEach((h) => h.proc.send({ cmd: 'stats' }))
    const stats = await Promise.all(
      live.map((h, i) => event(h, (e) => e.event === 'stats', statsCapMs, 'stats', marksAt[i]).catch(() => null))
    )
    const since = stats.flatMap((s) => (s === null ? [] : [s.since as LoopDelay]))
    const perHost: Record<string, Activity> = {}
    const spans: number[] = []
    stats.forEach((s, i) => {
      const rss = (s?.memory as { rss?: number } | undefined)?.rss
      if (rss !== undefined) peakRss[live[i].name] = Math.max(peakRss[live[i].name] ?? 0, rss)
      const counters = s?.dht as DhtCounters | undefined
      if (counters === undefined) return
      const before = lastDht.get(live[i].name)
      const rates = before === undefined ? null : activityPerMinute(before, counters)
      if (rates !== null && before !== undefined) {
        perHost[live[i].name] = rates
        spans.push(counters.at - before.at)
      }
      lastDht.set(live[i].name, counters)
    })
    return {
      loopDelay: { p99Max: Math.max(0, ...since.map((d) => d.p99)), max: Math.max(0, ...since.map((d) => d.max)) },
      perHost,
      activity: summarizeActivity(perHost),
      windowMs: spans.length === 0 ? 0 : [...spans].sort((a, b) => a - b)[Math.floor(spans.length / 2)]
    }
  }
  /** What a phase's result records at its end: the loop delay and DHT activity over it. */
  const phaseStats = async (): Promise<Pick<PhaseResult, 'loopDelay' | 'activity' | 'activityWindowMs'>> => {
    const { loopDelay, activity, windowMs } = await readStats()
    return { loopDelay, activity, activityWindowMs: windowMs }
  }

  /**
   * For each disturbed host: ms from `from` until the last of the hosts that had it as a peer at
   * `from` no longer did (the first of their `peers` events after `from` without it, in their
   * current process); null when one of them still had it. Read from `peers` events, as the
   * waits are: a host's `peer-remove` line can arrive a moment after its `peers` line.
   */
  const detection = (disturbed: readonly SoakHost[], from: number): Record<string, number | null> => {
    const out: Record<string, number | null> = {}
    const observers = hosts.filter((h) => !disturbed.includes(h) && h.up)
    for (const target of disturbed) {
      let latest = from
      let all = true
      for (const o of observers) {
        let connected = false
        let droppedAt: number | null = null
        for (const e of o.proc.events) {
          if (e.event !== 'peers') continue
          const has = (e.keys as string[]).includes(target.key)
          if ((e.at ?? 0) < from) connected = has
          else if (!has) {
            droppedAt = e.at ?? 0
            break
          }
        }
        if (!connected) continue
        if (droppedAt === null) all = false
        else latest = Math.max(latest, droppedAt)
      }
      out[target.name] = all ? latest - from : null
    }
    return out
  }

  /** Waits for the mesh to be full again and every reader to hold `blocks`; `extra` is read afterwards. */
  const onMeshAgain = async (name: string, from: number, blocks: number, extra: () => Partial<PhaseResult>): Promise<void> => {
    const meshed = await waitFor(meshOk, opts.capMs)
    const meshMs = meshed ? Math.max(from, ...hosts.map((h) => h.peersChangedAt)) - from : null
    const state = describeMesh()
    const graph = partial === null ? undefined : graphState()
    const pairs = partial === null ? missingPairs() : []
    const low = fewest().peers
    const held = await waitFor(() => allHold(blocks), opts.verifyCapMs)
    const blocksMs = held ? Math.max(from, ...readers().map((h) => h.heldAt(blocks) ?? from)) - from : null
    if (!meshed) failures.push(`${name}: ${partial === null ? 'the mesh was not full again' : `the graph was not connected with every host within ${partial.min}–${partial.max} peers again`} within ${opts.capMs / 1000} s (${state})`)
    if (!held) failures.push(`${name}: not every reader held all ${blocks} blocks within ${opts.verifyCapMs / 1000} s (${readers().filter((h) => h.held < blocks).map((h) => `${h.name} ${h.held}`).join(', ')})`)
    const result: PhaseResult = { meshMs, graph, blocksMs, fewestPeers: low, missingPairs: pairs, ...extra(), ...(await phaseStats()) }
    phases[name] = result
    const again = partial === null ? 'full again' : 'connected and within bounds again'
    log(
      `${name}: dropped by all others after ${describeDetection(result.detectionMs ?? {})}; ` +
        `mesh ${meshed ? `${again} after ${seconds(meshMs)}${graph === undefined ? '' : ` (${describeGraph(graph)})`}` : `NOT ${again} (${state})`}; ` +
        `blocks ${held ? `all held after ${seconds(blocksMs)}` : 'missing'}`
    )
  }

  const openAtEnd: ConnOpenAtEnd[] = []
  let stopWatch = (): void => {}
  const hostLoopDelay: Record<string, LoopDelay> = {}
  const hostMemory: Record<string, { rss: number; heapUsed: number }> = {}
  const dhtTotals: Record<string, DhtCounters> = {}
  let steady: SteadyResult | null = null
  let relay: RelayResult | null = null
  try {
    // Setup: namespaces (host 0 is the DHT's), the bundled host script, the DHT, then the hosts.
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-soak-'))
    resources.workDir = workDir
    let t = Date.now()
    const topology = createTopology(n + 1, { staticNeighbours: true })
    resources.topology = topology
    setupMs.namespaces = Date.now() - t
    log(`${n + 1} namespaces with static neighbour entries in ${seconds(setupMs.namespaces)}`)
    t = Date.now()
    const env = { HOST_TIMEOUT: String(opts.timeout), HOST_STACK: opts.bare ? 'bare' : 'networker', HOST_MAX_PEERS: opts.maxPeers === null ? '' : String(opts.maxPeers) }
    const launcher = new HostLauncher(topology, workDir, env, hostPriority)
    resources.launcher = launcher

    const stderrOf = (host: { stderr: string }) => (text: string) => {
      host.stderr = (host.stderr + text).slice(-64 * 1024)
    }
    const dht = { stderr: '' }
    const dhtProc = launcher.start(0, 'dht', ['bootstrap', topology.hosts[0].address, '--nodes', '3'], { onStderr: stderrOf(dht) })
    const boot = await dhtProc.next((e) => e.event === 'bootstrap', opts.capMs)
    const bootstrap = `${String(boot.host)}:${String(boot.port)}`

    const spawn = (host: SoakHost, extra: readonly string[]): void => {
      host.generations.push(launcher.start(host.index, host.name, [...host.args, ...extra], { onStderr: stderrOf(host) }))
      host.up = true
    }
    const dirOf = (i: number): string => path.join(workDir, `h${i}`)
    const writer = new SoakHost(1, 'writer', 'writer', ['writer', topology.hosts[1].address, bootstrap, dirOf(1)])
    hosts.push(writer)
    spawn(writer, ['--join-on-command'])
    const prepared = await event(writer, (e) => e.event === 'prepared', opts.capMs, 'prepared')
    writer.key = shortKey(String(prepared.publicKey))
    const coreKey = String(prepared.key)
    for (let i = 2; i <= n; i++) {
      const args = ['reader', topology.hosts[i].address, bootstrap, dirOf(i), coreKey, '--block-size', String(opts.blockSize)]
      const reader = new SoakHost(i, `reader${i - 1}`, 'reader', args)
      hosts.push(reader)
      spawn(reader, ['--join-on-command'])
    }
    // Starting N processes on a busy machine takes a while: a second per host on top of the cap.
    const startCap = opts.capMs + n * 1000
    for (const reader of readers()) reader.key = shortKey(String((await event(reader, (e) => e.event === 'prepared', startCap, 'prepared')).publicKey))
    setupMs.processes = Date.now() - t
    log(`DHT (bootstrap + 2 persistent nodes) and ${n} host processes up in ${seconds(setupMs.processes)}`)

    // 1. mesh: everyone joins at once. From here on the runner's own loop delay is measured.
    // A first reading of every host's counters: the mesh phase's activity counts from it.
    await readStats()
    runnerLoop.enable()
    stopWatch = watchStalls()
    current = 'mesh'
    const joinAt = Date.now()
    marks.push({ name: 'mesh', from: joinAt })
    for (const h of hosts) h.proc.send({ cmd: 'join' })
    const meshed = await waitFor(meshOk, opts.capMs)
    const meshMs = meshed ? Math.max(joinAt, ...hosts.map((h) => h.peersChangedAt)) - joinAt : null
    const meshState = describeMesh()
    const meshGraph = partial === null ? undefined : graphState()
    if (!meshed) {
      failures.push(
        partial === null
          ? `mesh: no full mesh within ${opts.capMs / 1000} s (${meshState})`
          : `mesh: the graph was not connected with every host within ${partial.min}–${partial.max} peers within ${opts.capMs / 1000} s (${meshState})`
      )
    }
    const peersEvents = hosts.map((h) => h.proc.events.filter((e) => e.event === 'peers').map((e) => ({ at: e.at ?? 0, keys: e.keys as string[] })))
    const meshShares = partial === null ? meshProgress(peersEvents.map((list) => list.map((e) => ({ at: e.at, count: e.keys.length }))), n * (n - 1), joinAt) : undefined
    const timeline = partial === null ? undefined : meshTimeline(hosts.map((h) => h.key), peersEvents, joinAt, partial)
    phases.mesh = {
      meshMs,
      meshShares,
      graph: meshGraph,
      timeline,
      blocksMs: null,
      fewestPeers: fewest().peers,
      missingPairs: partial === null ? missingPairs() : [],
      ...(await phaseStats())
    }
    if (partial === null) log(`mesh: ${meshed ? `full (${n - 1} peers each) after ${seconds(meshMs)}` : `NOT full (${meshState})`}`)
    else {
      log(
        `mesh (partial, ${partial.min}–${partial.max} peers): ${meshed ? `held after ${seconds(meshMs)}` : 'NOT reached'}; ` +
          `connected first at ${seconds(timeline?.connectedMs ?? null)}, every host within bounds first at ${seconds(timeline?.boundsMs ?? null)}; ${meshState}`
      )
    }

    // 1b. steady: nothing happens; how often do the hosts look up and dial, and does the graph hold?
    if (opts.steadyMs > 0) {
      current = 'steady'
      const steadyAt = Date.now()
      marks.push({ name: 'steady', from: steadyAt })
      let samples = 0
      let splitSamples = 0
      let offSamples = 0
      let splitSince: number | null = null
      let longestSplitMs = 0
      await waitFor(() => {
        const now = Date.now()
        const c = check()
        samples++
        if (!(partial === null ? fullMesh() : c.ok)) offSamples++
        if (!c.connected) {
          splitSamples++
          splitSince ??= now
          longestSplitMs = Math.max(longestSplitMs, now - splitSince)
        } else splitSince = null
        return now >= steadyAt + opts.steadyMs
      }, opts.steadyMs + 1000)
      const graphAtEnd = graphState()
      const { perHost, activity } = await readStats()
      steady = { ms: Date.now() - steadyAt, perHost, activity, samples, splitSamples, longestSplitMs, offSamples, graphAtEnd }
      if (splitSamples > 0) {
        failures.push(`steady: the graph of connections was split in ${splitSamples} of ${samples} samples (longest ${seconds(longestSplitMs)}; at the end: ${describeGraph(graphAtEnd)})`)
      }
      const storm = (field: 'lookups' | 'dials', limit: number | null, flag: string): void => {
        if (limit === null) return
        const over = Object.entries(perHost).filter(([, a]) => a[field] > limit).sort((a, b) => b[1][field] - a[1][field])
        if (over.length > 0) {
          failures.push(
            `steady: ${over.length} hosts made more than ${flag} ${limit} ${field} per minute (${over.slice(0, 5).map(([name, a]) => `${name} ${a[field]}`).join(', ')}${over.length > 5 ? ', …' : ''})`
          )
        }
      }
      storm('lookups', opts.maxLookupsPerMin, '--max-lookups-per-min')
      storm('dials', opts.maxDialsPerMin, '--max-dials-per-min')
      log(
        `steady ${seconds(steady.ms)}: per host per minute lookups ${activity.median.lookups} median / ${activity.max.lookups} most (${activity.busiest.lookups}), ` +
          `dials ${activity.median.dials} / ${activity.max.dials} (${activity.busiest.dials}); graph split in ${splitSamples} of ${samples} samples, ` +
          `criterion off in ${offSamples}; at the end ${describeGraph(graphAtEnd)}`
      )
    }

    // 2. replicate.
    current = 'replicate'
    const since = writer.proc.events.length
    writer.proc.send({ cmd: 'append', from: 0, count: opts.blocks, size: opts.blockSize })
    const appending = await event(writer, (e) => e.event === 'appending', opts.capMs, 'appending', since)
    const appendAt = appending.at ?? Date.now()
    marks.push({ name: 'replicate', from: appendAt })
    // Which readers had no connection to the writer when it appended: they must get every block through others.
    const hops = distancesFrom(mutualGraph(hosts.map((h) => h.key), hosts.map((h) => h.peers)).adjacency, hosts.indexOf(writer))
    const apart = readers().filter((h) => hops[hosts.indexOf(h)] !== 1)
    total = opts.blocks
    const verified = await waitFor(() => allHold(total), opts.verifyCapMs)
    const blocksMs = verified ? Math.max(appendAt, ...readers().map((h) => h.heldAt(total) ?? appendAt)) - appendAt : null
    if (!verified) {
      const short = readers().filter((h) => h.held < total)
      failures.push(
        `replicate: not every reader verified all ${total} blocks within ${opts.verifyCapMs / 1000} s ` +
          `(${short.length} short: ${short.slice(0, 8).map((h) => `${h.name} ${h.held}${apart.includes(h) ? ` [${hops[hosts.indexOf(h)] === null ? 'no path' : `${hops[hosts.indexOf(h)]} hops`} from the writer]` : ''}`).join(', ')})`
      )
    }
    const sendersOf = (h: SoakHost): Record<string, number> => (h.proc.latest.get('blocks')?.senders ?? {}) as Record<string, number>
    const fromWriter = readers().map((h) => sendersOf(h)[writer.key] ?? 0)
    const allFirst = readers().reduce((acc, h) => acc + Object.values(sendersOf(h)).reduce((a, b) => a + b, 0), 0)
    const byDistance: Record<string, number> = {}
    for (const h of apart) {
      const d = hops[hosts.indexOf(h)]
      const label = d === null ? 'unreachable' : String(d)
      byDistance[label] = (byDistance[label] ?? 0) + 1
    }
    relay = {
      notAdjacentAtAppend: apart.length,
      byDistance,
      notAdjacentVerified: apart.filter((h) => h.held >= total).length,
      nothingFromWriter: fromWriter.filter((c) => c === 0).length,
      fromWriterShare: allFirst === 0 ? null : Math.round((fromWriter.reduce((a, b) => a + b, 0) / allFirst) * 1000) / 1000
    }
    phases.replicate = { meshMs: null, blocksMs, fewestPeers: fewest().peers, missingPairs: partial === null ? missingPairs() : [], ...(await phaseStats()) }
    log(
      `replicate: ${total} blocks × ${n - 1} readers ${verified ? `verified after ${seconds(blocksMs)}` : 'NOT all verified'}; ` +
        `${relay.notAdjacentAtAppend} readers not connected to the writer (hops ${JSON.stringify(byDistance)}), ${relay.notAdjacentVerified} of them verified all; ` +
        `${relay.nothingFromWriter} readers got no block from the writer itself; the writer sent ${relay.fromWriterShare === null ? '—' : `${Math.round(relay.fromWriterShare * 100)} %`} of all first downloads`
    )

    const k = Math.max(1, Math.round(n * opts.fraction))
    const pool = readers()
    const cutSet = pool.slice(-k)
    const killSet = pool.length >= 2 * k ? pool.slice(0, k) : pool.slice(0, Math.min(k, pool.length))

    // 3. cut k readers at the switch for cutMs; the writer appends meanwhile.
    current = 'cut'
    const cutAt = Date.now()
    marks.push({ name: 'cut', from: cutAt })
    const linkDownMs = timed('link down', () => topology.link(cutSet.map((h) => h.index), false))
    writer.proc.send({ cmd: 'append', from: total, count: opts.extraBlocks, size: opts.blockSize })
    total += opts.extraBlocks
    const cutKeys = new Set(cutSet.map((h) => h.key))
    await waitFor(() => hosts.every((h) => cutSet.includes(h) || !h.peers.some((key) => cutKeys.has(key))), opts.cutMs)
    // The cut lasts cutMs from the moment the link was down (the `ip` call can wait for the kernel).
    await sleep(Math.max(0, cutAt + linkDownMs + opts.cutMs - Date.now()))
    const linkUpMs = timed('link up', () => topology.link(cutSet.map((h) => h.index), true))
    const restoreAt = Date.now()
    for (const h of cutSet) disturbances.push({ host: h.index, from: cutAt, to: restoreAt })
    log(`cut: ${cutSet.map((h) => h.name).join(', ')} for ${seconds(restoreAt - cutAt)} (ip: down ${linkDownMs} ms, up ${linkUpMs} ms)`)
    await onMeshAgain('cut', restoreAt, total, () => ({
      // Read once the phase is over: a drop that landed just after the restore still counts.
      detectionMs: detection(cutSet, cutAt),
      hosts: cutSet.map((h) => h.name),
      cutMs: restoreAt - cutAt,
      ipMs: { down: linkDownMs, up: linkUpMs }
    }))

    // 4. SIGKILL k other readers, append, wait until the others dropped them, restart on the same storage.
    current = 'kill'
    const killAt = Date.now()
    marks.push({ name: 'kill', from: killAt })
    await Promise.all(
      killSet.map((h) => {
        h.up = false
        return h.proc.kill()
      })
    )
    writer.proc.send({ cmd: 'append', from: total, count: opts.extraBlocks, size: opts.blockSize })
    total += opts.extraBlocks
    const killedKeys = new Set(killSet.map((h) => h.key))
    await waitFor(() => hosts.every((h) => !h.up || !h.peers.some((key) => killedKeys.has(key))), opts.capMs)
    const killDetection = detection(killSet, killAt)
    const restartAt = Date.now()
    const spawnMs = timed('restart', () => {
      for (const h of killSet) spawn(h, [])
    })
    for (const h of killSet) disturbances.push({ host: h.index, from: killAt, to: restartAt + spawnMs })
    log(`kill: ${killSet.map((h) => h.name).join(', ')} killed, restarted after ${seconds(restartAt - killAt)}`)
    await onMeshAgain('kill', restartAt, total, () => ({ detectionMs: killDetection, hosts: killSet.map((h) => h.name) }))
  } catch (err) {
    if (err instanceof DeadlineError) failures.push(err.message)
    else failures.push(`${current}: ${err instanceof Error ? err.message : String(err)}`)
    log(`stopped: ${failures[failures.length - 1]}`)
  }

  // The end: what every host holds and has open, and its event-loop delay over the whole run.
  stopWatch()
  runnerLoop.disable()
  const endAt = Date.now()
  marks.push({ name: 'end', from: endAt })
  const live = hosts.filter((h) => h.up && h.generations.length > 0 && !h.proc.exited)
  const since = live.map((h) => h.proc.events.length)
  for (const h of live) {
    h.proc.send({ cmd: 'snapshot' })
    h.proc.send({ cmd: 'stats' })
  }
  const keyIndex = new Map(hosts.map((h) => [h.key, h.index]))
  const indexOf = (key: unknown): number => keyIndex.get(String(key)) ?? -1
  await Promise.all(
    live.map(async (h, i) => {
      const wait = (name: string): Promise<HostEvent | null> =>
        h.proc.next((e) => e.event === name, statsCapMs, since[i]).catch(() => null)
      const [snapshot, stats] = await Promise.all([wait('snapshot'), wait('stats')])
      if (stats !== null) {
        hostLoopDelay[h.name] = stats.whole as LoopDelay
        const memory = stats.memory as { rss: number; heapUsed: number } | undefined
        if (memory !== undefined) {
          hostMemory[h.name] = { rss: memory.rss, heapUsed: memory.heapUsed }
          peakRss[h.name] = Math.max(peakRss[h.name] ?? 0, memory.rss)
        }
        if (stats.dht !== undefined) dhtTotals[h.name] = stats.dht as DhtCounters
      }
      for (const c of (snapshot?.conns ?? []) as Array<Record<string, unknown>>) {
        openAtEnd.push({ host: h.index, id: String(c.id), remote: indexOf(c.remote), age: Number(c.age), read: Number(c.read), current: c.current === true })
      }
    })
  )

  const opens: ConnOpen[] = []
  const closes: ConnClose[] = []
  const networkerErrors: Record<string, number> = {}
  const hostErrors: string[] = []
  for (const h of hosts) {
    for (const e of h.allEvents()) {
      if (e.event === 'conn-open') opens.push({ host: h.index, id: String(e.id), remote: indexOf(e.remote), at: e.at ?? 0 })
      else if (e.event === 'conn-close') {
        closes.push({
          host: h.index,
          id: String(e.id),
          remote: indexOf(e.remote),
          at: e.at ?? 0,
          read: Number(e.read),
          written: Number(e.written),
          error: typeof e.error === 'string' ? e.error : null,
          errorAt: typeof e.errorAt === 'number' ? e.errorAt : null,
          role: e.role as ConnClose['role'],
          lived: typeof e.lived === 'number' ? e.lived : null,
          wasPeer: e.wasPeer === true,
          held: typeof e.held === 'number' ? e.held : undefined
        })
      } else if (e.event === 'neterror') networkerErrors[String(e.code)] = (networkerErrors[String(e.code)] ?? 0) + 1
      else if (e.event === 'error') hostErrors.push(`${h.name}: ${String(e.message)}`)
    }
    for (const g of h.generations) {
      const killed = g !== h.proc && g.child.signalCode === 'SIGKILL'
      if (g.exited && !killed) hostErrors.push(`${h.name}: exited unexpectedly (${String(g.child.exitCode ?? g.child.signalCode)})`)
    }
  }
  const connections =
    hosts.length === 0
      ? null
      : analyseConnections({ opens, closes, openAtEnd, disturbances, phases: marks, endAt, silentAfter: opts.timeout, maxPeers: degreeLimit })

  // Blocks: every reader holds every block, each verified once. A block downloaded again is a
  // duplicate; Hypercore's own re-requests to a second peer ("hotswaps") explain up to that many.
  const perReader: Record<string, ReaderBlocks> = {}
  const sum = { duplicates: 0, hotswaps: 0, unexplained: 0, bad: 0, lost: 0 }
  for (const h of readers()) {
    const gens = h.generations.map((g) => {
      const last = [...g.events].reverse().find((e) => e.event === 'blocks')
      const duplicates = Number(last?.duplicates ?? 0)
      const hotswaps = Number(last?.hotswaps ?? 0)
      return { duplicates, hotswaps, unexplained: Math.max(0, duplicates - hotswaps), bad: Number(last?.bad ?? 0) }
    })
    const add = (f: (g: (typeof gens)[number]) => number): number => gens.reduce((acc, g) => acc + f(g), 0)
    const entry = {
      have: h.up ? h.held : 0,
      duplicates: add((g) => g.duplicates),
      hotswaps: add((g) => g.hotswaps),
      unexplained: add((g) => g.unexplained),
      bad: add((g) => g.bad)
    }
    perReader[h.name] = entry
    sum.duplicates += entry.duplicates
    sum.hotswaps += entry.hotswaps
    sum.unexplained += entry.unexplained
    sum.bad += entry.bad
    sum.lost += Math.max(0, total - entry.have)
  }
  if (total > 0 && (sum.unexplained > 0 || sum.bad > 0 || sum.lost > 0)) {
    failures.push(
      `blocks: not every block verified exactly once (${sum.lost} missing, ${sum.bad} failed the content check, ${sum.unexplained} downloaded again beyond Hypercore's hotswap re-requests, over ${readers().length} readers × ${total})`
    )
  }
  const healthy = connections?.healthyDrops.connections ?? 0
  if (opts.maxHealthyDrops !== null && healthy > opts.maxHealthyDrops) {
    failures.push(`healthy drops: ${healthy} healthy connections were dropped, more than --max-healthy-drops ${opts.maxHealthyDrops}`)
  }
  for (const e of hostErrors) failures.push(`host: ${e}`)

  // maxPeers is a hard limit: no host may ever list more peers (read from every `peers` event).
  let mostPeersSeen: { peers: number; host: string } | null = null
  for (const h of hosts) {
    for (const e of h.allEvents()) {
      if (e.event !== 'peers') continue
      const count = (e.keys as unknown[]).length
      if (mostPeersSeen === null || count > mostPeersSeen.peers) mostPeersSeen = { peers: count, host: h.name }
    }
  }
  if (mostPeersSeen !== null && mostPeersSeen.peers > degreeLimit) {
    failures.push(`maxPeers: ${mostPeersSeen.host} listed ${mostPeersSeen.peers} peers at one moment, above maxPeers ${degreeLimit}`)
  }
  const spread = (values: number[]): { median: number; max: number; total: number } => {
    const sorted = [...values].sort((a, b) => a - b)
    const round = (v: number): number => Math.round(v * 10) / 10
    return { median: sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)], max: Math.max(0, ...sorted), total: round(sorted.reduce((a, b) => a + b, 0)) }
  }
  const mib = (bytes: number): number => Math.round(bytes / 2 ** 20)

  const low = hosts.length === 0 ? null : fewest()
  const result: SoakResult = {
    kind: 'soak-hosts',
    hosts: n,
    maxPeers: opts.maxPeers,
    partial,
    smoke: opts.smoke,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Date.now() - startedAt,
    machine: atStart,
    loadAverageAtEnd: os.loadavg().map((v) => Math.round(v * 100) / 100),
    options: {
      hosts: n,
      blocks: opts.blocks,
      blockSize: opts.blockSize,
      extraBlocks: opts.extraBlocks,
      timeout: opts.timeout,
      maxPeers: opts.maxPeers,
      steadyMs: opts.steadyMs,
      maxLookupsPerMin: opts.maxLookupsPerMin,
      maxDialsPerMin: opts.maxDialsPerMin,
      fraction: opts.fraction,
      cutMs: opts.cutMs,
      capMs: opts.capMs,
      verifyCapMs: opts.verifyCapMs,
      deadlineMs: opts.deadlineMs,
      maxHealthyDrops: opts.maxHealthyDrops,
      bare: opts.bare
    },
    setupMs,
    hostNames: Object.fromEntries(hosts.map((h) => [h.index, h.name])),
    phases,
    marks,
    blocks: { total, perReader, ...sum },
    connections,
    fewestPeersAtEnd: low === null ? null : { peers: low.peers, of: partial?.max ?? n - 1, host: low.host },
    mostPeersSeen,
    steady,
    relay,
    memory: {
      hosts: hostMemory,
      rss: spread(Object.values(hostMemory).map((m) => m.rss)),
      heapUsed: spread(Object.values(hostMemory).map((m) => m.heapUsed)),
      peakRss: spread(Object.values(peakRss)),
      machineTotal: mib(os.totalmem()),
      machineFreeAtEnd: mib(os.freemem())
    },
    dhtTotals,
    loopDelay: { summary: loopDelaySummary(Object.values(hostLoopDelay)), hosts: hostLoopDelay, runner: loopDelayOf(runnerLoop), runnerStalls: stalls },
    networkerErrors,
    hostErrors,
    failures,
    passed: failures.length === 0,
    row: ''
  }
  if (opts.logs !== null) writeLogs(opts.logs, hosts)
  return { ...result, row: docsRow(result) }
}

function describeDetection(d: Record<string, number | null>): string {
  const values = Object.values(d)
  if (values.length === 0) return '—'
  if (values.some((v) => v === null)) return `not all (${Object.entries(d).map(([k, v]) => `${k} ${seconds(v)}`).join(', ')})`
  return `${seconds(Math.min(...(values as number[])))}–${seconds(Math.max(...(values as number[])))}`
}

function writeLogs(dir: string, hosts: readonly SoakHost[]): void {
  fs.mkdirSync(dir, { recursive: true })
  for (const h of hosts) {
    h.generations.forEach((g, i) => {
      const file = path.join(dir, `${h.name}${i === 0 ? '' : `-restart${i}`}.jsonl`)
      fs.writeFileSync(file, g.events.map((e) => JSON.stringify(e)).join('\n') + '\n')
    })
    if (h.stderr !== '') fs.writeFileSync(path.join(dir, `${h.name}.stderr`), h.stderr)
  }
}

/**
 * Full mesh: `| hosts | full mesh | all readers verified | healthy drops | after cut/kill |`.
 * Partial: `| hosts | stack | K (min) | connected + bounds | diameter | peers per host | all
 * readers verified (not next to the writer) | steady lookups / dials per host per min (median /
 * most) | healthy drops | after cut/kill |`.
 */
function docsRow(r: SoakResult): string {
  const partial = r.partial
  const after = (name: string): string => {
    const p = r.phases[name]
    if (p === undefined) return `${name}: not run`
    if (p.meshMs === null) {
      return partial === null ? `${name}: **never full again** (fewest ${p.fewestPeers} of ${r.hosts - 1})` : `${name}: **never whole again** (${p.graph?.connected === true ? 'connected, a host out of bounds' : 'split'})`
    }
    return `${name}: ${partial === null ? 'full' : 'whole'} again ${seconds(p.meshMs)}`
  }
  const healthy = r.connections === null ? '—' : thousands(r.connections.healthyDrops.connections)
  if (partial === null) {
    return `| ${r.hosts} | ${seconds(r.phases.mesh?.meshMs ?? null)} | ${seconds(r.phases.replicate?.blocksMs ?? null)} | ${healthy} | ${after('cut')}; ${after('kill')} |`
  }
  const mesh = r.phases.mesh
  const g = mesh?.graph
  const steady = r.steady === null ? '—' : `${r.steady.activity.median.lookups} / ${r.steady.activity.max.lookups}; ${r.steady.activity.median.dials} / ${r.steady.activity.max.dials}`
  const relay = r.relay === null ? '' : ` (${r.relay.notAdjacentVerified} of ${r.relay.notAdjacentAtAppend} not next to the writer)`
  return (
    `| ${r.hosts} | ${r.options.bare ? 'bare' : 'networker'} | ${partial.max} (${partial.min}) | ${seconds(mesh?.meshMs ?? null)} | ${g?.diameter ?? '—'} | ` +
    `${g === undefined ? '—' : `${g.degrees.min}–${g.degrees.max}`} | ${seconds(r.phases.replicate?.blocksMs ?? null)}${relay} | ${steady} | ${healthy} | ${after('cut')}; ${after('kill')} |`
  )
}

function print(r: SoakResult): void {
  const c = r.connections
  const ld = r.loopDelay.summary
  const phase = (name: string): PhaseResult | undefined => r.phases[name]
  const detect = (name: string): string => describeDetection(phase(name)?.detectionMs ?? {})
  const missing = (p: PhaseResult | undefined): string =>
    p === undefined ? 'not run' : `pairs apart: ${p.missingPairs.length >= 50 ? '50 or more' : p.missingPairs.length}${p.missingPairs.length > 0 ? `, e.g. ${p.missingPairs.slice(0, 3).join(', ')}` : ''}`
  const again = (name: string): string => {
    const p = phase(name)
    if (p === undefined) return 'not run'
    const mesh =
      r.partial === null
        ? p.meshMs === null
          ? `NOT full again (fewest ${p.fewestPeers} of ${r.hosts - 1}; ${missing(p)})`
          : `mesh full again ${seconds(p.meshMs)}`
        : p.meshMs === null
          ? 'NOT connected within bounds again'
          : `connected within bounds again ${seconds(p.meshMs)}`
    const cut = p.cutMs === undefined ? '' : ` for ${seconds(p.cutMs)}`
    return `${p.hosts?.join(', ') ?? ''}${cut}: dropped by all others after ${detect(name)}; ${mesh}, all blocks ${seconds(p.blocksMs)} after ${name === 'cut' ? 'the restore' : 'the restart'}`
  }
  const shares = (p: PhaseResult | undefined): string =>
    p?.meshShares === undefined ? '' : `; of all pairs ${Object.entries(p.meshShares).map(([share, ms]) => `${share} ${seconds(ms)}`).join(', ')}`
  const graphText = (g: GraphState | undefined): string =>
    g === undefined
      ? '—'
      : `${g.connected ? `connected, diameter ${g.diameter}` : `SPLIT (${g.components.join(' + ')} hosts)`}, peers per host ${g.degrees.min}–${g.degrees.max} (median ${g.degrees.median})` +
        (g.belowMin.length > 0 ? `, ${g.belowMin.length} below ${r.partial?.min}` : '') +
        (g.aboveMax.length > 0 ? `, ${g.aboveMax.length} above ${r.partial?.max}` : '') +
        (g.oneSided > 0 ? `, ${g.oneSided} one-sided` : '')
  const perMin = (a: ActivitySummary | undefined): string =>
    a === undefined || a.hosts === 0
      ? '—'
      : `lookups ${a.median.lookups} median / ${a.max.lookups} most (${a.busiest.lookups}; announces ${a.median.announces} / ${a.max.announces}), ` +
        `dials ${a.median.dials} / ${a.max.dials} (${a.busiest.dials}; failed ${a.median.dialsFailed} / ${a.max.dialsFailed}), ` +
        `all DHT queries ${a.median.queries} / ${a.max.queries}`
  const meshRow: Array<[string, string]> =
    r.partial === null
      ? [['full mesh', `${phase('mesh')?.meshMs == null ? `NOT reached (${missing(phase('mesh'))})` : `${seconds(phase('mesh')?.meshMs ?? null)} from the join`}${shares(phase('mesh'))}`]]
      : [
          [
            'partial mesh',
            `every host ${r.partial.min}–${r.partial.max} peers and the graph connected: ${phase('mesh')?.meshMs == null ? 'NOT reached' : `${seconds(phase('mesh')?.meshMs ?? null)} from the join`}` +
              `; connected first ${seconds(phase('mesh')?.timeline?.connectedMs ?? null)}, every host within bounds first ${seconds(phase('mesh')?.timeline?.boundsMs ?? null)}`
          ],
          ['graph after the join', graphText(phase('mesh')?.graph)]
        ]
  const st = r.steady
  const rl = r.relay
  const rows: Array<[string, string]> = [
    [
      'hosts',
      `${r.hosts} (1 writer, ${r.hosts - 1} readers) + private DHT (bootstrap + 2 persistent nodes); ` +
        `${r.options.bare ? 'BARE STACK (Hyperswarm + Corestore + probe channel, no time-out)' : `timeout ${r.options.timeout} ms`}; ` +
        `maxPeers ${r.maxPeers ?? `default (${STACK_MAX_PEERS})`}${r.partial === null ? '' : ` (partial mesh: at least ${r.partial.min} peer${r.partial.min === 1 ? '' : 's'} each)`}`
    ],
    ['machine', `${r.machine.cores} cores, load ${r.machine.loadAverage.join(' ')} at the start, ${r.loadAverageAtEnd.join(' ')} at the end`],
    ['setup', `namespaces ${seconds(r.setupMs.namespaces)}, processes ${seconds(r.setupMs.processes)}`],
    ...meshRow,
    ['activity while meshing', `${perMin(phase('mesh')?.activity)} (per host per minute over ${seconds(phase('mesh')?.activityWindowMs ?? null)})`],
    [
      'steady state',
      st === null
        ? 'not run'
        : `${seconds(st.ms)}, per host per minute: ${perMin(st.activity)}; graph split in ${st.splitSamples} of ${st.samples} samples` +
          (st.splitSamples > 0 ? ` (longest ${seconds(st.longestSplitMs)})` : '') +
          `, criterion off in ${st.offSamples}; at the end ${graphText(st.graphAtEnd)}`
    ],
    ['all readers verified', `${seconds(phase('replicate')?.blocksMs ?? null)} from the append (${r.options.blocks} × ${r.options.blockSize} B)`],
    [
      'through others',
      rl === null
        ? '—'
        : `${rl.notAdjacentAtAppend} readers not connected to the writer at the append (by hops ${JSON.stringify(rl.byDistance)}), ${rl.notAdjacentVerified} of them verified every block; ` +
          `${rl.nothingFromWriter} readers got no block from the writer itself; the writer sent ${rl.fromWriterShare === null ? '—' : `${Math.round(rl.fromWriterShare * 100)} %`} of all first downloads`
    ],
    [
      'blocks (whole run)',
      `${r.blocks.total} per reader, each verified once: ${r.blocks.lost} missing, ${r.blocks.bad} bad; ` +
        `${r.blocks.duplicates} downloaded again (Hypercore hotswap re-requests ${r.blocks.hotswaps}; ${r.blocks.unexplained} unexplained)`
    ],
    ['cut', again('cut') + (r.partial === null ? '' : `; ${graphText(phase('cut')?.graph)}`)],
    ['kill', again('kill') + (r.partial === null ? '' : `; ${graphText(phase('kill')?.graph)}`)],
    [
      'healthy drops',
      c === null
        ? '—'
        : `${thousands(c.healthyDrops.connections)} connections, ${c.healthyDrops.pairs} pairs, ${c.healthyDrops.ends} ends` +
          (c.healthyDrops.connections > 0
            ? ` · by phase ${JSON.stringify(c.healthyDrops.byPhase)} · ${JSON.stringify(c.healthyDrops.byReason)} · median life ${seconds(c.healthyDrops.medianLivedMs)}`
            : '')
    ],
    [
      'connections',
      c === null
        ? '—'
        : `${thousands(c.connections)} (${thousands(c.duplicateCloses)} closed as duplicates, ${thousands(c.disturbedCloses)} with a cut/killed end` +
          (r.partial === null && c.atMaxPeers.refused + c.atMaxPeers.evicted === 0 ? ')' : `; by a full host: ${thousands(c.atMaxPeers.refused)} refused as they arrived, ${thousands(c.atMaxPeers.evicted)} peers closed to make room)`)
    ],
    ['never carried data', c === null ? '—' : `${c.neverCarriedData.connections} connections (${c.neverCarriedData.openAsPeers} still open as peers at the end)`],
    ['fewest peers at the end', r.fewestPeersAtEnd === null ? '—' : `${r.fewestPeersAtEnd.peers} of ${r.fewestPeersAtEnd.of} (${r.fewestPeersAtEnd.host})`],
    ['most peers seen', r.mostPeersSeen === null ? '—' : `${r.mostPeersSeen.peers} (${r.mostPeersSeen.host})${r.maxPeers === null ? '' : `, maxPeers ${r.maxPeers}`}`],
    [
      'memory per host',
      `RSS ${r.memory.rss.median} MiB median / ${r.memory.rss.max} MiB most, ${thousands(Math.round(r.memory.rss.total))} MiB over all hosts; ` +
        `heap ${r.memory.heapUsed.median} / ${r.memory.heapUsed.max} MiB; largest RSS at a phase end ${r.memory.peakRss.median} / ${r.memory.peakRss.max} MiB, ` +
        `${thousands(Math.round(r.memory.peakRss.total))} MiB summed; machine ${thousands(r.memory.machineTotal)} MiB, ${thousands(r.memory.machineFreeAtEnd)} free at the end`
    ],
    ['event-loop delay', `p50 ${ld.p50Median} ms (median host), p99 ${ld.p99Median} ms median / ${ld.p99Max} ms worst host, max ${ld.max} ms`],
    [
      'runner loop delay',
      `p99 ${r.loopDelay.runner.p99} ms, max ${r.loopDelay.runner.max} ms, ${r.loopDelay.runnerStalls.length} stalls ≥ 1 s` +
        (r.loopDelay.runnerStalls.length > 0 ? ` (longest ${seconds(Math.max(...r.loopDelay.runnerStalls.map((st) => st.ms)))})` : '') +
        ' (the harness\'s own clock for cuts and waits)'
    ],
    ['networker errors', Object.keys(r.networkerErrors).length === 0 ? 'none' : JSON.stringify(r.networkerErrors)],
    ['duration', seconds(r.durationMs)]
  ]
  console.log('\n' + table(rows))
  console.log('\nHealthy drop: a connection that carried data and closed while neither of its hosts was cut, killed')
  console.log('or restarting, and not as a duplicate (Hyperswarm\'s own resolution, or the networker\'s dedup replacing')
  console.log('it); counted once per connection (Noise handshake hash) whichever ends saw it close. One that never')
  console.log('carried data counts under "never carried data" instead. See docs/scaling.md.')
  console.log(`\ndocs/scaling.md row:\n${r.row}`)
  console.log(r.passed ? '\nPASS' : `\nFAIL\n${r.failures.map((f) => `  - ${f}`).join('\n')}`)
}

async function main(): Promise<void> {
  let opts: Options
  try {
    opts = parseArgs(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    console.error(`${err.message}\n${USAGE}`)
    process.exit(2)
  }
  if (process.getuid?.() !== 0) {
    console.error('the hosts soak builds network namespaces: run it as root')
    process.exit(2)
  }
  process.on('exit', releaseNow)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: removing hosts, namespaces and temp dirs`)
      releaseNow()
      process.exit(130)
    })
  }
  const startedAt = Date.now()
  const atStart = machine()
  os.setPriority(Math.max(-20, hostPriority - RUNNER_BOOST))
  // A last resort if teardown itself hangs: everything is released synchronously on exit.
  setTimeout(() => {
    console.error('the global deadline passed and the run did not stop: forcing it')
    process.exit(1)
  }, opts.deadlineMs + 60_000).unref()
  log(`hosts soak: ${opts.hosts} hosts${opts.smoke ? ' (smoke)' : ''}, deadline ${opts.deadlineMs / 1000} s`)
  const result = await soak(opts, startedAt, atStart)
  await release()
  print(result)
  if (opts.out !== null) {
    fs.mkdirSync(path.dirname(opts.out), { recursive: true })
    fs.writeFileSync(opts.out, JSON.stringify(result, null, 2) + '\n')
    const shown = path.relative(process.cwd(), opts.out)
    console.log(`written: ${shown.startsWith('..') ? opts.out : shown}`)
  }
  process.exitCode = result.passed ? 0 : 1
}

main().catch((err: unknown) => {
  console.error(err)
  releaseNow()
  process.exit(1)
})
