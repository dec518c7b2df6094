/**
 * The hosts soak's bookkeeping, pure: which connections were healthy ones dropped, which never
 * carried data, and how a result is printed. The runner (soak.ts) feeds it the hosts' events.
 */

/** A connection opening at one end (a host's `conn-open`); `remote` is the other host's index. */
export interface ConnOpen {
  readonly host: number
  readonly id: string
  readonly remote: number
  readonly at: number
}

/** A connection closing at one end (a host's `conn-close`). */
export interface ConnClose extends ConnOpen {
  /** Bytes received and sent after the handshake at this end. */
  readonly read: number
  readonly written: number
  /** The error the stream was destroyed with at this end, and when (null: closed without one). */
  readonly error: string | null
  readonly errorAt: number | null
  /** What the connection was to this end's networker when it closed (see host-process.ts). */
  readonly role: 'current' | 'replaced' | 'unadmitted'
  readonly lived: number | null
  /** It was this end's peer at some moment (its `peers` listed the remote over this connection). */
  readonly wasPeer?: boolean
  /**
   * The `maxPeers` slots this end held when it closed, this connection's remote aside: its
   * peers and the remote keys of its other connections still open (pending admission).
   */
  readonly held?: number
}

/** A connection still open at the end of the run, at one end (a host's `snapshot`). */
export interface ConnOpenAtEnd {
  readonly host: number
  readonly id: string
  readonly remote: number
  readonly age: number
  readonly read: number
  /** It is the connection this end's peer for `remote` rides on. */
  readonly current: boolean
}

/** A host cut off or killed: from the cut (kill) until the link is restored (the restarted host starts). */
export interface Disturbance {
  readonly host: number
  readonly from: number
  readonly to: number
}

/** Where the run was when a connection closed: each phase from its start until the next one's. */
export interface PhaseMark {
  readonly name: string
  readonly from: number
}

export interface ConnectionInput {
  readonly opens: readonly ConnOpen[]
  readonly closes: readonly ConnClose[]
  readonly openAtEnd: readonly ConnOpenAtEnd[]
  readonly disturbances: readonly Disturbance[]
  readonly phases: readonly PhaseMark[]
  /** Closes from here on (the teardown) are not counted. */
  readonly endAt: number
  /** A connection open at the end counts as silent only once it is at least this old (ms). */
  readonly silentAfter: number
  /** Every host's `maxPeers`, when the run set one: closes by a full host are then counted apart (`atMaxPeers`). */
  readonly maxPeers?: number | null
}

export interface HealthyDrop {
  /** The two hosts, the smaller index first. */
  readonly pair: readonly [number, number]
  readonly at: number
  /** The host whose end closed first, and why. */
  readonly closedBy: number
  readonly reason: string
  readonly lived: number | null
  /** How many ends reported the close (1 or 2). */
  readonly ends: number
}

export interface ConnectionAnalysis {
  /** Distinct connections (handshake hashes) seen by any host. */
  readonly connections: number
  /** Closed before the end of the run. */
  readonly closed: number
  /** Closed as a duplicate by dedup (Hyperswarm's or the networker's), on purpose. */
  readonly duplicateCloses: number
  /** Closed, and either end was cut or killed during the connection's life. */
  readonly disturbedCloses: number
  /**
   * Closed without an error by an end that held every `maxPeers` slot (the remote aside) and
   * for which it was no peer any more: `refused`, never its peer (closed as it arrived);
   * `evicted`, its peer until then (closed to make room for another). Deliberate, not drops.
   */
  readonly atMaxPeers: { readonly refused: number; readonly evicted: number }
  readonly healthyDrops: {
    /** Connections, each counted once whichever ends saw it close. */
    readonly connections: number
    /** Distinct host pairs with at least one. */
    readonly pairs: number
    /** Closes reported by the ends (up to two per connection), before deduplication. */
    readonly ends: number
    readonly byPhase: Readonly<Record<string, number>>
    readonly byReason: Readonly<Record<string, number>>
    readonly medianLivedMs: number | null
    /** The first 20, for a look at the logs. */
    readonly examples: readonly HealthyDrop[]
  }
  /** Connections not closed as duplicates over which nothing was received at either end. */
  readonly neverCarriedData: {
    /** Closed ones plus those still open at the end and at least `silentAfter` old. */
    readonly connections: number
    /** Of those, still open at the end as a peer's connection at some end. */
    readonly openAsPeers: number
  }
}

export const DUPLICATE_ERROR = 'Duplicate connection'
/** The transport's error at an end whose remote closed (reset) the connection. */
export const RESET_ERROR = 'connection reset by peer'
export const TIMEOUT_ERROR = 'Stream timed out'

/** When this end decided the connection's fate: its error if it had one, else its close. */
function decidedAt(close: ConnClose): number {
  return close.errorAt ?? close.at
}

/**
 * A close caused by the remote closing its end (the transport's reset). Its reason is the
 * remote's: when the remote reported its own close, that one decides, whatever the clocks of
 * the two reports say (a reset can be logged before the close that caused it).
 */
function closedByRemote(close: ConnClose): boolean {
  return close.error === RESET_ERROR
}

/** The close that decides what a connection's end was: the earliest, a reset by the remote only when nothing else was reported. */
function decidingClose(closes: readonly ConnClose[]): ConnClose {
  const own = closes.filter((c) => !closedByRemote(c))
  return (own.length > 0 ? own : closes).reduce((a, b) => (decidedAt(b) < decidedAt(a) ? b : a))
}

/** A close is a dedup close when the end that closed it first closed it as a duplicate. */
export function closedAsDuplicate(first: ConnClose): boolean {
  return first.error === DUPLICATE_ERROR || first.role === 'replaced'
}

function phaseAt(phases: readonly PhaseMark[], at: number): string {
  let name = phases.length > 0 ? phases[0].name : 'run'
  for (const phase of phases) if (phase.from <= at) name = phase.name
  return name
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/**
 * Classifies every connection of the run.
 *
 * A **healthy drop** is a connection that closed before the end of the run, where
 * 1. neither end's host was disturbed (cut, killed, or not yet restarted) at any moment
 *    between the connection's first open and its first close, and
 * 2. the end that closed it first did not close it as a duplicate (an end whose remote reset
 *    the connection did not close it: the remote's own report decides): Hyperswarm's own
 *    resolution (`Duplicate connection`) or the networker's dedup (at that end the peer was
 *    already riding on another connection: the one dropped or replaced), and
 * 3. data crossed it: some end received a byte after the handshake. A connection over which
 *    nothing ever crossed was never healthy; dropping it (by the handshake budget, never having
 *    been a peer) is what the networker must do with it. It counts in `neverCarriedData`, and
 * 4. (with `maxPeers`) the end that closed it first did not close it without an error while it
 *    held every `maxPeers` slot and the connection was no peer there (a full host refusing a
 *    newcomer, or closing a peer to make room for one): those count in `atMaxPeers`.
 * Both ends report their close; a connection is counted once (by its Noise handshake hash,
 * the same at both ends), and its pair once in `pairs`.
 */
export function analyseConnections(input: ConnectionInput): ConnectionAnalysis {
  const opensById = new Map<string, ConnOpen[]>()
  for (const open of input.opens) opensById.set(open.id, [...(opensById.get(open.id) ?? []), open])
  const closesById = new Map<string, ConnClose[]>()
  for (const close of input.closes) {
    if (close.at >= input.endAt) continue
    closesById.set(close.id, [...(closesById.get(close.id) ?? []), close])
  }
  const atEndById = new Map<string, ConnOpenAtEnd[]>()
  for (const open of input.openAtEnd) atEndById.set(open.id, [...(atEndById.get(open.id) ?? []), open])
  const ids = new Set([...opensById.keys(), ...closesById.keys(), ...atEndById.keys()])

  const disturbed = (host: number, from: number, to: number): boolean =>
    input.disturbances.some((d) => d.host === host && d.from <= to && from <= d.to)

  let duplicateCloses = 0
  let disturbedCloses = 0
  const atMaxPeers = { refused: 0, evicted: 0 }
  const maxPeers = input.maxPeers ?? null
  const drops: HealthyDrop[] = []
  let silent = 0
  let silentPeers = 0
  for (const id of ids) {
    const closes = closesById.get(id) ?? []
    const atEnd = atEndById.get(id) ?? []
    if (closes.length === 0) {
      // Still open at the end (at every end that saw it).
      const old = atEnd.length > 0 && atEnd.every((e) => e.age >= input.silentAfter)
      if (old && atEnd.every((e) => e.read === 0)) {
        silent++
        if (atEnd.some((e) => e.current)) silentPeers++
      }
      continue
    }
    const first = decidingClose(closes)
    if (closedAsDuplicate(first)) {
      duplicateCloses++
      continue
    }
    if (maxPeers !== null && first.error === null && first.role === 'unadmitted' && (first.held ?? 0) >= maxPeers) {
      if (first.wasPeer === true) atMaxPeers.evicted++
      else atMaxPeers.refused++
      continue
    }
    if ([...closes, ...atEnd].every((e) => e.read === 0)) {
      silent++
      continue
    }
    const opens = opensById.get(id) ?? []
    const openedAt = Math.min(...opens.map((o) => o.at), ...closes.map((c) => c.at - (c.lived ?? 0)))
    const closedAt = decidedAt(first)
    if (disturbed(first.host, openedAt, closedAt) || disturbed(first.remote, openedAt, closedAt)) {
      disturbedCloses++
      continue
    }
    drops.push({
      pair: first.host < first.remote ? [first.host, first.remote] : [first.remote, first.host],
      at: closedAt,
      closedBy: first.host,
      reason: first.error ?? 'closed without error',
      lived: first.lived,
      ends: closes.length
    })
  }
  drops.sort((a, b) => a.at - b.at)

  const count = (keys: readonly string[]): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const key of keys) out[key] = (out[key] ?? 0) + 1
    return out
  }
  return {
    connections: ids.size,
    closed: closesById.size,
    duplicateCloses,
    disturbedCloses,
    atMaxPeers,
    healthyDrops: {
      connections: drops.length,
      pairs: new Set(drops.map((d) => d.pair.join('-'))).size,
      ends: drops.reduce((n, d) => n + d.ends, 0),
      byPhase: count(drops.map((d) => phaseAt(input.phases, d.at))),
      byReason: count(drops.map((d) => d.reason)),
      medianLivedMs: median(drops.flatMap((d) => (d.lived === null ? [] : [d.lived]))),
      examples: drops.slice(0, 20)
    },
    neverCarriedData: { connections: silent, openAsPeers: silentPeers }
  }
}

/** The shares of all host pairs `meshProgress` reports the time of. */
export const MESH_SHARES = [0.5, 0.9, 0.99] as const

/**
 * How the mesh filled: for each share in `MESH_SHARES`, ms from `from` until the hosts' peer
 * counts summed to that share of `need` (every host counting each other one: N × (N − 1)), or null
 * if they never did. `peers` holds each host's `peers` events (its time and how many peers it
 * had), in any order; events before `from` set the starting counts. A mesh that never becomes
 * full (the bare stack, which looks again only on its own timer) still shows how fast most of it
 * formed.
 */
export function meshProgress(
  peers: ReadonlyArray<ReadonlyArray<{ readonly at: number; readonly count: number }>>,
  need: number,
  from: number
): Record<string, number | null> {
  const changes = peers.flatMap((events, host) => events.map((e) => ({ host, ...e }))).sort((a, b) => a.at - b.at)
  const counts = new Map<number, number>()
  let total = 0
  const reached = new Map<number, number>()
  for (const { host, at, count } of changes) {
    total += count - (counts.get(host) ?? 0)
    counts.set(host, count)
    for (const share of MESH_SHARES) {
      if (!reached.has(share) && need > 0 && total >= share * need) reached.set(share, Math.max(0, at - from))
    }
  }
  return Object.fromEntries(MESH_SHARES.map((share) => [`${Math.round(share * 100)}%`, reached.get(share) ?? null]))
}

/** Event-loop delay of one host (ms). */
export interface LoopDelay {
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/** Event-loop sampling for `loopDelayOf`: every 10 ms. */
export const LOOP_RESOLUTION_MS = 10

/**
 * A `monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })` histogram in ms. Each sample is
 * the whole interval between two checks, so the delay is the sample minus the resolution.
 */
export function loopDelayOf(h: { count: number; max: number; percentile(p: number): number }): LoopDelay & { samples: number } {
  const ms = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 10) / 10)
  return h.count === 0
    ? { p50: 0, p99: 0, max: 0, samples: 0 }
    : { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count }
}

export function loopDelaySummary(hosts: readonly LoopDelay[]): { p50Median: number; p99Median: number; p99Max: number; max: number } {
  const pick = (f: (d: LoopDelay) => number): number[] => hosts.map(f)
  return {
    p50Median: median(pick((d) => d.p50)) ?? 0,
    p99Median: median(pick((d) => d.p99)) ?? 0,
    p99Max: Math.max(0, ...pick((d) => d.p99)),
    max: Math.max(0, ...pick((d) => d.max))
  }
}

/** `1.2 s` (one decimal), or `—` for a figure that was never reached. */
export function seconds(ms: number | null): string {
  return ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`
}

/** `4,911` */
export function thousands(n: number): string {
  return n.toLocaleString('en-US')
}

/** Two-column plain-text table. */
export function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

/**
 * The fewest peers a host of a partial mesh (`maxPeers` K below N − 1) must keep:
 * min(K, max(2, ⌈K / 3⌉)). Two, so that no host is one failure away from being cut off from the
 * data; a third of K for larger K (a low water mark below the high one, as libp2p's connection
 * manager keeps); never above K. K = 4 → 2, K = 8 → 3, K = 12 → 4. The library documents the same
 * rule as the least a topic keeps looking for (issue 25): change both together.
 */
export function minPeersFor(maxPeers: number): number {
  if (!Number.isInteger(maxPeers) || maxPeers < 1) throw new RangeError(`maxPeers must be a positive whole number, not ${maxPeers}`)
  return Math.min(maxPeers, Math.max(2, Math.ceil(maxPeers / 3)))
}

/** The graph of connections: host i's neighbours by index, over edges both ends list. */
export interface PeerGraph {
  readonly adjacency: ReadonlyArray<readonly number[]>
  /** Entries one host lists whose remote does not list it back (a connection one end has not admitted, or not dropped, yet). */
  readonly oneSided: number
  /** Entries naming no host of the run. */
  readonly unknown: number
}

/**
 * The mutual graph: `keys[i]` is host i's key, `peers[i]` the keys host i lists as peers. An
 * edge only where both ends list each other: a connection is a peer at both ends or it is no
 * edge (issue 25: a connection that is a peer at one end only carries no replication).
 */
export function mutualGraph(keys: readonly string[], peers: ReadonlyArray<readonly string[]>): PeerGraph {
  const index = new Map(keys.map((k, i) => [k, i]))
  const listed = peers.map((list) => new Set(list))
  let oneSided = 0
  let unknown = 0
  const adjacency = keys.map((key, i) => {
    const out: number[] = []
    for (const peer of listed[i] ?? []) {
      const j = index.get(peer)
      if (j === undefined || j === i) unknown++
      else if (listed[j]?.has(key)) out.push(j)
      else oneSided++
    }
    return out.sort((a, b) => a - b)
  })
  return { adjacency, oneSided, unknown }
}

/** Hops from `source` to every host over `adjacency` (breadth first); null for a host out of reach. */
export function distancesFrom(adjacency: ReadonlyArray<readonly number[]>, source: number): Array<number | null> {
  const out: Array<number | null> = adjacency.map(() => null)
  if (source < 0 || source >= adjacency.length) return out
  out[source] = 0
  const queue = [source]
  for (let head = 0; head < queue.length; head++) {
    const at = queue[head]
    for (const next of adjacency[at]) {
      if (out[next] !== null) continue
      out[next] = (out[at] as number) + 1
      queue.push(next)
    }
  }
  return out
}

/** The connected components (host indices, ascending), largest first (then by their first host). */
export function components(adjacency: ReadonlyArray<readonly number[]>): number[][] {
  const seen = new Set<number>()
  const out: number[][] = []
  for (let start = 0; start < adjacency.length; start++) {
    if (seen.has(start)) continue
    const members = distancesFrom(adjacency, start).flatMap((d, i) => (d === null ? [] : [i]))
    for (const m of members) seen.add(m)
    out.push(members)
  }
  return out.sort((a, b) => b.length - a.length || a[0] - b[0])
}

/** The diameter: the most hops between any two hosts over shortest paths; null when the graph is split (or empty). */
export function diameter(adjacency: ReadonlyArray<readonly number[]>): number | null {
  if (adjacency.length === 0) return null
  let most = 0
  for (let i = 0; i < adjacency.length; i++) {
    for (const d of distancesFrom(adjacency, i)) {
      if (d === null) return null
      most = Math.max(most, d)
    }
  }
  return most
}

/** The partial mesh's bounds: every host between `min` and `max` (K) peers. */
export interface DegreeBounds {
  readonly min: number
  readonly max: number
}

export interface MeshCheck {
  /** Connected, and no host below `min` or above `max`. */
  readonly ok: boolean
  readonly connected: boolean
  /** Component sizes, largest first (one: connected). */
  readonly components: readonly number[]
  /** null when not connected. */
  readonly diameter: number | null
  /** Peers per host over edges both ends list. */
  readonly degrees: { readonly min: number; readonly median: number; readonly max: number }
  /** Hosts with fewer than `min` mutual peers. */
  readonly belowMin: readonly number[]
  /** Hosts listing more than `max` peers (one-sided entries included: a host above K is above it whatever the remote thinks). */
  readonly aboveMax: readonly number[]
  readonly oneSided: number
}

/**
 * The partial-mesh criterion of the hosts soak: every host has between `bounds.min` and
 * `bounds.max` peers, and the graph of connections (edges both ends list) is connected; with its
 * diameter, degrees and what is wrong when it does not hold.
 */
export function checkPartialMesh(keys: readonly string[], peers: ReadonlyArray<readonly string[]>, bounds: DegreeBounds): MeshCheck {
  const graph = mutualGraph(keys, peers)
  const parts = components(graph.adjacency)
  const connected = parts.length === 1
  const degrees = graph.adjacency.map((a) => a.length)
  const belowMin = degrees.flatMap((d, i) => (d < bounds.min ? [i] : []))
  const aboveMax = keys.flatMap((_, i) => (new Set(peers[i] ?? []).size > bounds.max ? [i] : []))
  return {
    ok: connected && belowMin.length === 0 && aboveMax.length === 0,
    connected,
    components: parts.map((p) => p.length),
    diameter: connected ? diameter(graph.adjacency) : null,
    degrees: { min: Math.min(...degrees), median: median(degrees) ?? 0, max: Math.max(...degrees) },
    belowMin,
    aboveMax,
    oneSided: graph.oneSided
  }
}

/**
 * How a partial mesh formed: replaying every host's `peers` events (`keys`, at `at`) in time
 * order, ms from `from` until the graph was first connected (`connectedMs`), until every host was
 * first within `bounds` (`boundsMs`), and until both held at once (`bothMs`); null for what never
 * held. Events before `from` set the starting state (then the figure is 0); events at the same
 * instant are applied together.
 */
export function meshTimeline(
  keys: readonly string[],
  events: ReadonlyArray<ReadonlyArray<{ readonly at: number; readonly keys: readonly string[] }>>,
  from: number,
  bounds: DegreeBounds
): { connectedMs: number | null; boundsMs: number | null; bothMs: number | null } {
  const changes = events.flatMap((list, host) => list.map((e) => ({ host, at: e.at, keys: e.keys }))).sort((a, b) => a.at - b.at)
  const peers: Array<readonly string[]> = keys.map(() => [])
  const out: { connectedMs: number | null; boundsMs: number | null; bothMs: number | null } = { connectedMs: null, boundsMs: null, bothMs: null }
  // No diameter here (a breadth-first walk from every host): this runs after every change, and a
  // 100-host mesh phase has thousands.
  const look = (at: number): void => {
    const adjacency = mutualGraph(keys, peers).adjacency
    const connected = adjacency.length > 0 && distancesFrom(adjacency, 0).every((d) => d !== null)
    const inBounds = adjacency.every((a, i) => a.length >= bounds.min && new Set(peers[i]).size <= bounds.max)
    const ms = Math.max(0, at - from)
    if (out.connectedMs === null && connected) out.connectedMs = ms
    if (out.boundsMs === null && inBounds) out.boundsMs = ms
    if (out.bothMs === null && connected && inBounds) out.bothMs = ms
  }
  let i = 0
  while (i < changes.length && changes[i].at <= from) {
    peers[changes[i].host] = changes[i].keys
    i++
  }
  look(from)
  while (i < changes.length && out.bothMs === null) {
    const at = changes[i].at
    while (i < changes.length && changes[i].at === at) {
      peers[changes[i].host] = changes[i].keys
      i++
    }
    look(at)
  }
  return out
}

/**
 * A host's DHT activity so far (host-process.ts, in its `stats` events), counted on its HyperDHT
 * node without touching the library: every query the node starts goes through `dht.query`
 * (except its routing table's own refreshes), and every dial through `dht.connect`.
 */
export interface DhtCounters {
  /** Date.now() of the reading, and the process (a restarted host starts from zero). */
  readonly at: number
  readonly pid: number
  /** Topic queries (HyperDHT's LOOKUP command): Hyperswarm's lookups and announces of a topic, each one DHT walk. */
  readonly lookups: number
  /** Of `lookups`, those with a commit: announces (a lookup that then stores the announcement at the closest nodes) and unannounces. */
  readonly announces: number
  /** FIND_PEER queries: a dial that has to find the remote's address on the DHT first. */
  readonly findPeers: number
  /** `dht.connect` calls: every connection this host tried to open (Hyperswarm's dials). */
  readonly dials: number
  /** Of `dials`, those that closed before opening (refused, timed out, failed). */
  readonly dialsFailed: number
  /** Every query the DHT node started (`dht.stats.queries.total`), the routing table's own included. */
  readonly queries: number
}

/** `DhtCounters` per minute over an interval. */
export type Activity = Omit<DhtCounters, 'at' | 'pid'>

const ACTIVITY_FIELDS = ['lookups', 'announces', 'findPeers', 'dials', 'dialsFailed', 'queries'] as const

/** Per minute between two readings of the same process (one decimal); null across a restart or over no time. */
export function activityPerMinute(before: DhtCounters, after: DhtCounters): Activity | null {
  const ms = after.at - before.at
  if (after.pid !== before.pid || ms <= 0) return null
  const rate = (field: (typeof ACTIVITY_FIELDS)[number]): number => Math.round(((after[field] - before[field]) * 60_000 * 10) / ms) / 10
  return Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, rate(f)])) as unknown as Activity
}

export interface ActivitySummary {
  readonly hosts: number
  readonly median: Activity
  readonly max: Activity
  /** The host with the most lookups, and with the most dials. */
  readonly busiest: { readonly lookups: string; readonly dials: string }
}

/** Median and most of each figure over the hosts (by name). */
export function summarizeActivity(perHost: Readonly<Record<string, Activity>>): ActivitySummary {
  const entries = Object.entries(perHost)
  const pick = (f: (a: Activity) => number): number[] => entries.map(([, a]) => f(a))
  const of = (g: (values: number[]) => number): Activity =>
    Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, g(pick((a) => a[f]))])) as unknown as Activity
  const busiest = (field: 'lookups' | 'dials'): string => entries.reduce<[string, number]>((top, [name, a]) => (a[field] > top[1] ? [name, a[field]] : top), ['', -1])[0]
  return {
    hosts: entries.length,
    median: of((v) => median(v) ?? 0),
    max: of((v) => Math.max(0, ...v)),
    busiest: { lookups: busiest('lookups'), dials: busiest('dials') }
  }
}
