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
 *    been a peer) is what the networker must do with it. It counts in `neverCarriedData`.
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
