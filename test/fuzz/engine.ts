/**
 * The protocol fuzzing engine: one long-lived victim networker in a child process (it installs
 * no handler for unhandled rejections or uncaught exceptions, so what would end a user's process
 * ends it), an honest networker peer beside it sending numbered messages the whole time, and for
 * each sequence a fresh raw hostile connection that carries the sequence out. After every
 * sequence it checks:
 *
 * 1. the victim is alive (a death is reported with what `uncaughtExceptionMonitor` saw, the exit
 *    code or signal and the end of stderr) and answers within `rpcMs`;
 * 2. heap growth: the highest heap left by a full collection while the sequence ran (V8's own
 *    mark-compacts and ours, the hostile connection still open) minus the heap after a full
 *    collection before it, within `heapBudget`;
 * 3. every error on the victim's `errors$` is a `NetworkerError` with a code of `ErrorCodes`;
 * 4. the honest peer's messages sent so far have all reached the victim, each once, in order
 *    (within `catchUpMs`), and the victim's broadcasts reached the honest peer once, in order.
 *
 * A victim that died or stopped answering is replaced (new process, new store, new topic, new
 * honest peer) before the next sequence.
 */
import path from 'path'
import { randomBytes } from 'crypto'
import type { Harness } from '../kit/harness'
import { Sequence } from './actions'
import { HonestPeer, HonestOptions } from './honest'
import { createCounters, Dialler, HostileCounters, HostilePeer } from './hostile'
import type { HonestCount, SequenceFigures, VictimConfig } from './protocol'
import { Death, VictimGone, VictimProcess } from './victim'
import { RECEIVE_QUEUE_BYTES } from '../../lib/budgets'

const MiB = 1024 * 1024

/**
 * The heap a single hostile peer may make the victim hold, whatever it sends: the receive budget
 * of each of the victim's two extension lanes (`RECEIVE_QUEUE_BYTES`, lib/budgets.ts, which
 * bounds the deliveries queued too) plus 8 MiB for one connection's own buffers.
 */
export const FUZZ_HEAP_BUDGET = 2 * RECEIVE_QUEUE_BYTES + 8 * MiB

export interface EngineOptions {
  readonly victim?: Partial<VictimConfig>
  /** Bytes of heap growth allowed per sequence. Default `FUZZ_HEAP_BUDGET`. */
  readonly heapBudget?: number
  /** The victim's V8 old-space limit (MiB). Default 2048. */
  readonly maxOldSpaceMb?: number
  readonly honest?: HonestOptions
  /** ms for the victim to answer a request (else it is unresponsive). Default 30 s. */
  readonly rpcMs?: number
  /** ms for the honest peer's messages to catch up after a sequence. Default 30 s. */
  readonly catchUpMs?: number
  /** ms the hostile peer waits for a dial, an open or a drain. Default 5 s. */
  readonly hostileDeadlineMs?: number
  /** ms between the last action and the heap snapshot. Default 50. */
  readonly settleMs?: number
  /** Progress lines (victim restarts). */
  readonly log?: (line: string) => void
  readonly echoStderr?: boolean
  /** Keep a spare victim process started, to replace a dead one at once. Default true. */
  readonly spare?: boolean
}

export type FailureKind = 'crash' | 'unresponsive' | 'unreachable' | 'uncoded' | 'heap' | 'lingering' | 'honest' | 'warning'

/** What went wrong after a sequence; `signature` groups failures with one cause. */
export interface Failure {
  readonly kind: FailureKind
  readonly signature: string
  readonly detail: string
}

export interface SequenceOutcome {
  readonly ok: boolean
  /** Most severe first (see `SEVERITY`). */
  readonly failures: readonly Failure[]
  readonly figures: SequenceFigures | null
  /** Heap growth (bytes) during the sequence; 0 when not measured. */
  readonly growth: number
  readonly frames: number
  readonly messages: number
  readonly bytes: number
  readonly ms: number
  readonly death: Death | null
}

/** Figures summed over every sequence the engine ran. */
export interface EngineTotals {
  sequences: number
  hostile: HostileCounters
  /** ms spent running sequences (the hostile side acting), and in the checks after them. */
  actingMs: number
  checkingMs: number
  /** Victim processes that died, or stopped answering and were killed. */
  crashes: number
  unresponsive: number
  restarts: number
  errorsByCode: Record<string, number>
  warnings: string[]
  worstGrowth: { bytes: number; sequence: Sequence | null }
  /**
   * How far the victim's heap before a sequence (after a full collection) moved from what it was
   * before the first sequence on that victim process: a leak per hostile connection shows here.
   * The largest drift of any victim, and the sequences it ran.
   */
  baselineDrift: { bytes: number; sequences: number }
  maxLoopDelayMs: number
  honest: { sent: number; delivered: number; victimBroadcastsReceived: number }
}

const SEVERITY: readonly FailureKind[] = ['crash', 'unresponsive', 'unreachable', 'uncoded', 'heap', 'lingering', 'honest', 'warning']

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function firstLine(text: string): string {
  return text.split('\n')[0].slice(0, 160)
}

/**
 * Where a stack points: the first frame in this repository outside node_modules (else the first
 * frame that is not Node's own), without line numbers (they move as the code changes).
 */
export function topFrame(stack: string): string {
  const root = path.join(__dirname, '..', '..') + path.sep
  const frames: Array<{ fn: string; file: string }> = []
  for (const line of stack.split('\n').slice(1)) {
    const m = /at (?:(.+?) \()?(.+?):\d+:\d+\)?$/.exec(line.trim())
    if (m === null || m[2].startsWith('node:')) continue
    frames.push({ fn: m[1] ?? '<anonymous>', file: m[2].startsWith(root) ? m[2].slice(root.length) : m[2] })
  }
  const ours = frames.find((f) => !f.file.includes('node_modules')) ?? frames[0]
  return ours === undefined ? '(no frame)' : `${ours.fn} (${ours.file})`
}

export function deathFailure(death: Death): Failure {
  const oom = /heap out of memory|Reached heap limit|Allocation failed/i.test(death.stderr)
  if (death.crash !== null) {
    const { origin, name, message, stack } = death.crash
    return {
      kind: 'crash',
      signature: `crash:${origin}:${name}: ${firstLine(message)} @ ${topFrame(stack)}`,
      detail: `the victim died (${origin}, exit ${death.code ?? death.signal}):\n${stack}`
    }
  }
  return {
    kind: 'crash',
    signature: oom ? 'crash:out-of-memory' : `crash:exit ${death.code ?? death.signal}`,
    detail: `the victim died (exit ${death.code ?? ''} ${death.signal ?? ''}); stderr ends:\n${death.stderr.slice(-3000)}`
  }
}

export class FuzzEngine {
  readonly totals: EngineTotals = {
    sequences: 0,
    hostile: createCounters(),
    actingMs: 0,
    checkingMs: 0,
    crashes: 0,
    unresponsive: 0,
    restarts: 0,
    errorsByCode: {},
    warnings: [],
    worstGrowth: { bytes: 0, sequence: null },
    baselineDrift: { bytes: 0, sequences: 0 },
    maxLoopDelayMs: 0,
    honest: { sent: 0, delivered: 0, victimBroadcastsReceived: 0 }
  }
  private victim: VictimProcess | null = null
  /** The next victim, started in the background so that a crash costs no start-up time. */
  private spare: Promise<VictimProcess | null> | null = null
  /** The current victim's heap before its first sequence, and the sequences it ran. */
  private onVictim: { first: number | null; sequences: number } = { first: null, sequences: 0 }
  /** Honest figures of the victims before the current one. */
  private honestBase = { sent: 0, delivered: 0, broadcasts: 0 }
  private honest: HonestPeer | null = null
  private readonly config: VictimConfig
  private readonly heapBudget: number
  private readonly rpcMs: number
  private readonly catchUpMs: number
  private readonly settleMs: number
  /** ms the victim may take to see a closed hostile connection close. */
  private readonly lingerMs: number
  private readonly log: (line: string) => void

  private constructor(
    private readonly h: Harness,
    private readonly dialler: Dialler & { destroy(): Promise<void> },
    private readonly opts: EngineOptions
  ) {
    this.config = { timeout: 5000, maxMessageSize: 64 * 1024, broadcastMs: 25, canary: false, ...opts.victim }
    this.heapBudget = opts.heapBudget ?? FUZZ_HEAP_BUDGET
    this.rpcMs = opts.rpcMs ?? 30_000
    this.catchUpMs = opts.catchUpMs ?? 30_000
    this.settleMs = opts.settleMs ?? 50
    this.lingerMs = Math.max(10_000, 3 * this.config.timeout)
    this.log = opts.log ?? (() => {})
  }

  /** Starts the victim and the honest peer on the harness's loopback network. */
  static async start(h: Harness, opts: EngineOptions = {}): Promise<FuzzEngine> {
    const dialler = h.net.swarmOptions().dht as unknown as Dialler & { destroy(): Promise<void> }
    const engine = new FuzzEngine(h, dialler, opts)
    h.onCleanup(() => engine.stop())
    await engine.startVictim()
    return engine
  }

  /** The victim's config (with defaults). */
  get victimConfig(): VictimConfig {
    return this.config
  }

  get budget(): number {
    return this.heapBudget
  }

  /** Runs one sequence on a fresh hostile connection and checks the victim afterwards. */
  async run(seq: Sequence): Promise<SequenceOutcome> {
    if (this.victim === null || !this.victim.alive) await this.restart()
    const victim = this.victim as VictimProcess
    const honest = this.honest as HonestPeer
    const counters = this.totals.hostile
    const before = { frames: counters.frames, messages: counters.messages, bytes: counters.bytes }
    const failures: Failure[] = []
    let figures: SequenceFigures | null = null
    let unresponsive: string | null = null
    const started = Date.now()
    let acted = started
    try {
      await victim.begin(this.rpcMs)
      const open = await victim.connections(this.rpcMs)
      const hostile = new HostilePeer(this.dialler, victim.publicKey, counters, { deadlineMs: this.opts.hostileDeadlineMs })
      try {
        const dialled = await hostile.run(seq, () => !victim.alive)
        if (!dialled && victim.alive) {
          failures.push({ kind: 'unreachable', signature: 'unreachable', detail: 'a new hostile peer could not connect to the victim (two dials)' })
        }
      } finally {
        acted = Date.now()
        if (victim.alive) {
          await sleep(this.settleMs)
          await victim.snapshot(this.rpcMs)
        }
        hostile.close()
      }
      const lingering = await this.settleConnections(victim, open)
      if (lingering > 0) {
        failures.push({
          kind: 'lingering',
          signature: 'lingering',
          detail: `${lingering} hostile connection(s) still open at the victim ${this.lingerMs} ms after the hostile peer closed them`
        })
      }
      figures = await victim.end(this.rpcMs)
      const honestFailure = await this.catchUp(victim, honest)
      if (honestFailure !== null) failures.push(honestFailure)
    } catch (err) {
      if (!(err instanceof VictimGone)) throw err
      if (err.reason === 'unresponsive') unresponsive = err.message
    }
    if (!victim.alive || unresponsive !== null) {
      if (victim.alive) {
        // Stuck, not dead: report it and start over with a fresh victim.
        this.totals.unresponsive++
        failures.push({ kind: 'unresponsive', signature: 'unresponsive', detail: unresponsive ?? '' })
        await victim.kill()
      } else {
        await victim.waitExit(2000)
        this.totals.crashes++
        failures.push(deathFailure(victim.death as Death))
      }
    }
    let growth = 0
    if (figures !== null) {
      growth = Math.max(0, figures.peak - figures.baseline)
      if (growth > this.heapBudget) {
        failures.push({
          kind: 'heap',
          signature: 'heap',
          detail: `heap grew by ${(growth / MiB).toFixed(1)} MiB (budget ${(this.heapBudget / MiB).toFixed(0)} MiB): ${(figures.baseline / MiB).toFixed(1)} → peak ${(figures.peak / MiB).toFixed(1)} MiB, ${(figures.after / MiB).toFixed(1)} MiB after`
        })
      }
      for (const warning of figures.warnings) {
        // A listener leak or a timer overflow caused by remote input is a bug, if not a crash yet.
        failures.push({ kind: 'warning', signature: `warning:${warning.split(':')[0]}`, detail: `a process warning in the victim: ${warning}` })
      }
      for (const err of figures.uncoded) {
        failures.push({
          kind: 'uncoded',
          signature: `uncoded:${err.name}:${firstLine(err.message)}`,
          detail: `an error without a known code on errors$ (code ${String(err.code)}):\n${err.stack}`
        })
      }
      this.record(figures, growth, seq)
    }
    const ms = Date.now() - started
    this.totals.sequences++
    this.totals.actingMs += acted - started
    this.totals.checkingMs += Date.now() - acted
    failures.sort((a, b) => SEVERITY.indexOf(a.kind) - SEVERITY.indexOf(b.kind))
    return {
      ok: failures.length === 0,
      failures,
      figures,
      growth,
      frames: counters.frames - before.frames,
      messages: counters.messages - before.messages,
      bytes: counters.bytes - before.bytes,
      ms,
      death: victim.death
    }
  }

  /** Stops the honest peer and the victim (SIGTERM), and the hostile side's DHT node. */
  async stop(): Promise<void> {
    await this.stopVictim()
    await this.stopSpare()
    if (!(this.dialler as unknown as { destroyed: boolean }).destroyed) await this.dialler.destroy()
  }

  private record(figures: SequenceFigures, growth: number, seq: Sequence): void {
    for (const [code, n] of Object.entries(figures.errors)) this.totals.errorsByCode[code] = (this.totals.errorsByCode[code] ?? 0) + n
    for (const w of figures.warnings) if (this.totals.warnings.length < 50 && !this.totals.warnings.includes(w)) this.totals.warnings.push(w)
    if (growth > this.totals.worstGrowth.bytes) this.totals.worstGrowth = { bytes: growth, sequence: seq }
    this.onVictim.sequences++
    this.onVictim.first ??= figures.baseline
    const drift = figures.baseline - this.onVictim.first
    if (drift > this.totals.baselineDrift.bytes) this.totals.baselineDrift = { bytes: drift, sequences: this.onVictim.sequences }
    this.totals.maxLoopDelayMs = Math.max(this.totals.maxLoopDelayMs, figures.maxLoopDelayMs)
  }

  /** Waits (bounded) until the victim has seen the hostile connections close; returns how many it has not. */
  private async settleConnections(victim: VictimProcess, open: number): Promise<number> {
    const deadline = Date.now() + this.lingerMs
    let now = await victim.connections(this.rpcMs)
    while (now > open && Date.now() < deadline) {
      await sleep(20)
      now = await victim.connections(this.rpcMs)
    }
    return Math.max(0, now - open)
  }

  /** Every honest message sent so far delivered, once and in order; null if so. */
  private async catchUp(victim: VictimProcess, honest: HonestPeer): Promise<Failure | null> {
    const target = honest.sent
    const deadline = Date.now() + this.catchUpMs
    let count: HonestCount = await victim.count(this.rpcMs)
    while (count.next < target && count.duplicates === 0 && count.skipped === 0 && Date.now() < deadline) {
      await sleep(20)
      count = await victim.count(this.rpcMs)
    }
    this.totals.honest.sent = this.honestBase.sent + honest.sent
    this.totals.honest.delivered = this.honestBase.delivered + count.next
    this.totals.honest.victimBroadcastsReceived = this.honestBase.broadcasts + honest.fromVictim.received
    if (count.duplicates > 0) {
      return { kind: 'honest', signature: 'honest:duplicates', detail: `the victim delivered ${count.duplicates} honest message(s) twice (first: ${count.firstViolation})` }
    }
    if (count.skipped > 0) {
      return { kind: 'honest', signature: 'honest:skipped', detail: `the victim never delivered ${count.skipped} honest message(s) (first: ${count.firstViolation}); the honest peer lost the victim ${honest.losses} time(s), its errors: ${JSON.stringify(honest.errors)}` }
    }
    if (count.next < target) {
      return { kind: 'honest', signature: 'honest:stalled', detail: `${count.next} of ${target} honest messages delivered after ${this.catchUpMs} ms` }
    }
    if (honest.fromVictim.violations > 0) {
      return { kind: 'honest', signature: 'honest:victim-order', detail: `the honest peer got the victim's broadcasts out of order or twice (${honest.fromVictim.violations}; first: ${honest.fromVictim.first})` }
    }
    return null
  }

  private async restart(): Promise<void> {
    this.totals.restarts++
    this.honestBase = { sent: this.totals.honest.sent, delivered: this.totals.honest.delivered, broadcasts: this.totals.honest.victimBroadcastsReceived }
    await this.stopVictim()
    await this.startVictim()
  }

  /** A new victim process on a fresh store and topic. */
  private spawn(): Promise<VictimProcess> {
    return VictimProcess.start({
      bootstrap: this.h.net.bootstrap,
      dir: this.h.tmpdir(),
      topic: randomBytes(32),
      config: this.config,
      maxOldSpaceMb: this.opts.maxOldSpaceMb ?? 2048,
      echoStderr: this.opts.echoStderr
    })
  }

  /** Takes the spare victim (or starts one), connects a new honest peer, and readies the next spare. */
  private async startVictim(): Promise<void> {
    const started = Date.now()
    const spare = this.spare === null ? null : await this.spare
    this.spare = null
    const victim = spare !== null && spare.alive ? spare : await this.spawn()
    this.victim = victim
    this.onVictim = { first: null, sequences: 0 }
    const honest = await HonestPeer.start(this.h, victim.topic, victim.publicKey, this.opts.honest)
    this.honest = honest
    await victim.setHonest(honest.publicKey, this.rpcMs)
    this.log(`victim ${victim.publicKey.toString('hex').slice(0, 8)} up in ${Date.now() - started} ms${spare !== null ? ' (the spare)' : ''}`)
    if (this.opts.spare !== false) this.spare = this.spawn().catch(() => null)
  }

  private async stopVictim(): Promise<void> {
    const honest = this.honest
    const victim = this.victim
    this.honest = null
    this.victim = null
    await honest?.stop()
    await victim?.stop()
  }

  private async stopSpare(): Promise<void> {
    const spare = this.spare === null ? null : await this.spare
    this.spare = null
    await spare?.stop()
  }
}
