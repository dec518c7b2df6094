import b4a from 'b4a'
import { randomBytes } from 'crypto'
import { BehaviorSubject, Observable, OperatorFunction, Subject } from 'rxjs'
import { dedupeConnections, prefers } from '../operators/dedupeConnections'
import { peerSet } from '../operators/peerSet'
import { detectFlush } from '../operators/detectFlush'
import type { ConnectionEvent, ConnectionLike, DiscoverySignal, PeerEvent, SwarmProgress } from '../operators/types'
import { getGc, measureAllocation } from '../test/kit/gc'
import { Metric, ScenarioOptions, ScenarioResult, metric, now, round } from './common'

/**
 * The pure operators on synthetic events, in this process, against a hand-written loop that
 * produces the same output without RxJS (the baseline: what wiring it by hand would cost).
 * Every run drives a synchronous source of pre-built events, so the figures are the operator's
 * own cost: events per second and bytes allocated per event (V8 heap, summed across
 * collections).
 *
 * - `dedupeConnections` (grace time 0): for each of 1,024 remote keys, open, a duplicate open
 *   (tie-break: swap + drop, or drop), two closes (one ignored, one remove).
 * - `peerSet`: 32 members; remove, add and swap cycle through them. Each change emits a new
 *   frozen array, so the cost grows with the set: a second run with 1,000 members shows it.
 * - `detectFlush`: start, discovered (waits on progress), busy progress, idle progress (emits
 *   flushed), busy progress again.
 */
export async function operators(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const smoke = opts.smoke ?? false
  const events = smoke ? 20_000 : 1_000_000
  const bigSetEvents = smoke ? 2_000 : 100_000
  const rounds = smoke ? 1 : 3
  const startedAt = new Date()
  const t0 = now()
  const gcAvailable = getGc() !== null

  const dedupe = dedupeEvents(events)
  const peers32 = peerEvents(events, 32)
  const peers1000 = peerEvents(bigSetEvents, 1000)
  const flush = flushEvents(events)
  const benches: Bench[] = [
    {
      key: 'dedupeConnections',
      label: 'dedupeConnections',
      target: true,
      n: events,
      ours: () => runOurs(dedupe, dedupeConnections({ graceTime: 0 })),
      raw: () => dedupeByHand(dedupe)
    },
    {
      key: 'peerSet',
      label: 'peerSet, 32 members',
      target: false,
      n: events,
      ours: () => runOurs(peers32, peerSet({ emitInitial: false })),
      raw: () => peerSetByHand(peers32)
    },
    {
      key: 'peerSet-1000',
      label: 'peerSet, 1,000 members',
      target: false,
      n: bigSetEvents,
      ours: () => runOurs(peers1000, peerSet({ emitInitial: false })),
      raw: () => peerSetByHand(peers1000)
    },
    {
      key: 'detectFlush',
      label: 'detectFlush',
      target: false,
      n: events,
      ours: () => detectFlushWithRx(flush),
      raw: () => detectFlushByHand(flush)
    }
  ]

  const metrics: Metric[] = []
  const checks: Record<string, number | boolean | string> = { gcExposed: gcAvailable }
  for (const bench of benches) {
    const rate = { ours: [] as number[], raw: [] as number[] }
    const bytes = { ours: [] as number[], raw: [] as number[] }
    const outputs = { ours: -1, raw: -1 }
    // One unmeasured warm-up of each (JIT), then A/B/A/B.
    if (!smoke) {
      if (opts.only !== 'raw') bench.ours()
      if (opts.only !== 'ours') bench.raw()
    }
    for (let i = 0; i < rounds; i++) {
      for (const side of ['ours', 'raw'] as const) {
        if (opts.only !== undefined && opts.only !== side) continue
        const { result, bytes: allocated } = measureAllocation(() => {
          const start = now()
          const produced = bench[side]()
          return { produced, ms: now() - start }
        })
        rate[side].push(round(bench.n / (result.ms / 1000), 0))
        bytes[side].push(round(allocated / bench.n, 1))
        outputs[side] = result.produced
      }
    }
    metrics.push(
      metric({
        key: `${bench.key}-rate`,
        label: `${bench.label}: events/s`,
        unit: 'events/s',
        better: 'higher',
        ours: rate.ours,
        raw: rate.raw,
        target: bench.target ? { op: '>=', value: 1_000_000, on: 'ours' } : null
      }),
      metric({
        key: `${bench.key}-alloc`,
        label: `${bench.label}: allocated per event`,
        unit: 'B/event',
        better: 'lower',
        ours: bytes.ours,
        raw: bytes.raw
      })
    )
    checks[`${bench.key}Outputs`] = outputs.ours
    if (opts.only === undefined) checks[`${bench.key}SameOutputAsBaseline`] = outputs.ours === outputs.raw
  }
  return {
    scenario: 'operators',
    title: `Operators: ${events.toLocaleString('en-US')} synthetic events each`,
    smoke,
    startedAt: startedAt.toISOString(),
    durationMs: now() - t0,
    params: { events, bigSetEvents, rounds, gcExposed: gcAvailable },
    metrics,
    checks,
    notes: [
      'The baseline is a plain loop with the same semantics and output (no Observables); the dedup target is on our absolute rate.',
      'Allocation is the V8 heap growth while a run lasts, summed across the collections inside it (v8.GCProfiler), divided by the events.'
    ]
  }
}

/** Runs one measured pass and returns how many outputs it produced (compared with the baseline). */
type Driver = () => number

interface Bench {
  key: string
  label: string
  /** Whether the ≥ 1,000,000 events/s target applies. */
  target: boolean
  /** Events per pass. */
  n: number
  ours: Driver
  raw: Driver
}

/** Subscribes `operator` to a synchronous source of `events` and counts its outputs. */
function runOurs<I, O>(events: readonly I[], operator: OperatorFunction<I, O>): number {
  let outputs = 0
  const source = new Observable<I>((subscriber) => {
    for (let i = 0; i < events.length; i++) subscriber.next(events[i])
    subscriber.complete()
  })
  source.pipe(operator).subscribe(() => outputs++)
  return outputs
}

// dedupeConnections ----------------------------------------------------------------------------

interface FakeConnection extends ConnectionLike {
  readonly id: number
}

function dedupeEvents(count: number): ConnectionEvent<FakeConnection>[] {
  const keys = 1024
  const local = randomBytes(32)
  const cycle: ConnectionEvent<FakeConnection>[][] = [[], [], [], []]
  for (let k = 0; k < keys; k++) {
    const remote = randomBytes(32)
    const a: FakeConnection = { id: 2 * k, publicKey: local, remotePublicKey: remote, isInitiator: true }
    const b: FakeConnection = { id: 2 * k + 1, publicKey: local, remotePublicKey: remote, isInitiator: false }
    cycle[0].push({ type: 'open', connection: a })
    cycle[1].push({ type: 'open', connection: b })
    cycle[2].push({ type: 'close', connection: a })
    cycle[3].push({ type: 'close', connection: b })
  }
  const all = cycle.flat()
  return Array.from({ length: count }, (_, i) => all[i % all.length])
}

/** The same bookkeeping as `dedupeConnections` with a grace time of 0, as a plain loop (ties broken by its own `prefers`). */
function dedupeByHand(events: readonly ConnectionEvent<FakeConnection>[]): number {
  const current = new Map<string, FakeConnection>()
  let outputs = 0
  for (let i = 0; i < events.length; i++) {
    const { type, connection } = events[i]
    const key = b4a.toString(connection.remotePublicKey, 'hex')
    const existing = current.get(key)
    if (type === 'open') {
      if (existing === undefined) {
        current.set(key, connection)
        outputs++ // add
      } else if (existing !== connection) {
        if (prefers(connection, existing)) {
          current.set(key, connection)
          outputs += 2 // swap, drop
        } else {
          outputs++ // drop
        }
      }
    } else if (existing === connection) {
      current.delete(key)
      outputs++ // remove
    }
  }
  return outputs
}

// peerSet ----------------------------------------------------------------------------------------

interface FakePeer {
  readonly id: number
}

function peerEvents(count: number, size: number): PeerEvent<FakePeer>[] {
  const members = Array.from({ length: size }, (_, id): FakePeer => ({ id }))
  const adds = members.map((peer): PeerEvent<FakePeer> => ({ type: 'add', peer }))
  const cycle: PeerEvent<FakePeer>[] = []
  for (const peer of members) {
    cycle.push({ type: 'remove', peer }, { type: 'add', peer }, { type: 'swap', peer })
  }
  return Array.from({ length: count }, (_, i) => (i < size ? adds[i] : cycle[(i - size) % cycle.length]))
}

/** The same contract as `peerSet`: a new frozen array, in order of arrival, on every change. */
function peerSetByHand(events: readonly PeerEvent<FakePeer>[]): number {
  const members = new Set<FakePeer>()
  let outputs = 0
  for (let i = 0; i < events.length; i++) {
    const { type, peer } = events[i]
    if (type === 'add' && !members.has(peer)) members.add(peer)
    else if (type !== 'remove' || !members.delete(peer)) continue
    latest = Object.freeze([...members])
    outputs++
  }
  return outputs
}

/** Where the hand-written peer set puts its arrays, so that no compiler can drop them. */
export let latest: readonly FakePeer[] = []

// detectFlush ------------------------------------------------------------------------------------

type FlushEvent = { readonly kind: 'signal'; readonly signal: DiscoverySignal } | { readonly kind: 'progress'; readonly progress: SwarmProgress }

const BUSY: SwarmProgress = Object.freeze({ connecting: 2, queued: 1, saturated: false })
const BUSIER: SwarmProgress = Object.freeze({ connecting: 1, queued: 0, saturated: false })
const IDLE: SwarmProgress = Object.freeze({ connecting: 0, queued: 0, saturated: false })

function flushEvents(count: number): FlushEvent[] {
  const cycle: FlushEvent[] = [
    { kind: 'signal', signal: { type: 'start' } },
    { kind: 'signal', signal: { type: 'discovered' } },
    { kind: 'progress', progress: BUSIER },
    { kind: 'progress', progress: IDLE },
    { kind: 'progress', progress: BUSY }
  ]
  return Array.from({ length: count }, (_, i) => cycle[i % cycle.length])
}

/** `detectFlush` as the networker uses it: signals from a Subject, progress from a BehaviorSubject. */
function detectFlushWithRx(events: readonly FlushEvent[]): number {
  const signals = new Subject<DiscoverySignal>()
  const progress = new BehaviorSubject<SwarmProgress>(BUSY)
  let outputs = 0
  const subscription = signals.pipe(detectFlush(progress)).subscribe(() => outputs++)
  for (let i = 0; i < events.length; i++) {
    const event = events[i]
    if (event.kind === 'signal') signals.next(event.signal)
    else progress.next(event.progress)
  }
  subscription.unsubscribe()
  return outputs
}

/** The same state machine as a plain loop. */
function detectFlushByHand(events: readonly FlushEvent[]): number {
  let current: SwarmProgress = BUSY
  let last: boolean | null = null
  let waiting = false
  let outputs = 0
  const idle = (p: SwarmProgress): boolean => p.saturated || (p.connecting === 0 && p.queued === 0)
  const emit = (flushed: boolean): void => {
    if (last === flushed) return
    last = flushed
    outputs++
  }
  for (let i = 0; i < events.length; i++) {
    const event = events[i]
    if (event.kind === 'progress') {
      current = event.progress
      if (waiting && idle(current)) {
        waiting = false
        emit(true)
      }
      continue
    }
    waiting = false
    if (event.signal.type !== 'discovered') {
      emit(false)
    } else if (idle(current)) {
      emit(true)
    } else {
      waiting = true
    }
  }
  return outputs
}
