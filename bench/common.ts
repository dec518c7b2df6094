/// <reference path="../types/index.d.ts" preserve="true" />
import Corestore from 'corestore'
import HyperDHT from 'hyperdht'
import fs from 'fs'
import os from 'os'
import path from 'path'
import v8 from 'v8'
import vm from 'vm'
import { randomBytes } from 'crypto'
import { Observable, filter, firstValueFrom, timeout } from 'rxjs'
import { createLocalNetwork, LocalNetwork } from '../lib/testnet'

/** Which implementation a measurement belongs to. */
export type Side = 'ours' | 'raw'

/** What every scenario function takes. */
export interface ScenarioOptions {
  /** Tiny sizes (about a second), for the smoke test: the results are checks, not timings. */
  smoke?: boolean
  /** Run on this network instead of a fresh one (the caller destroys it). */
  net?: LocalNetwork
  /** Progress output (default: nothing). */
  log?: (line: string) => void
  /** Run one side only (profiling); ratios are then null. Default both. */
  only?: Side
}

/** A target on the ratio ours/raw (or on an absolute value when there is no baseline). */
export interface Target {
  readonly op: '<=' | '>='
  readonly value: number
  /** What the target applies to. */
  readonly on: 'ratio' | 'ours'
}

/** One reported figure of a scenario. */
export interface Metric {
  readonly key: string
  readonly label: string
  readonly unit: string
  /** Which direction is better (for reading the ratio). */
  readonly better: 'higher' | 'lower'
  readonly ours: number | null
  readonly raw: number | null
  /** ours / raw (of the two medians), or null when either side is missing. */
  readonly ratio: number | null
  /**
   * The median of the per-round ratios ours[i] / raw[i] when both sides ran the same number of
   * rounds: robust to drift in the machine's load, as each pair ran back to back.
   */
  readonly pairedRatio: number | null
  readonly target: Target | null
  /** Whether the target is met; null without a target or without the value it applies to. */
  readonly met: boolean | null
  /** Every measured sample, in run order (the figure above is their median unless stated). */
  readonly samples?: { readonly ours: readonly number[]; readonly raw: readonly number[] }
}

/** What every scenario returns. */
export interface ScenarioResult {
  readonly scenario: string
  readonly title: string
  readonly smoke: boolean
  readonly startedAt: string
  readonly durationMs: number
  readonly params: Readonly<Record<string, number | string | boolean>>
  readonly metrics: readonly Metric[]
  /** Non-timing results: counts, losses, completeness. */
  readonly checks: Readonly<Record<string, number | boolean | string>>
  readonly notes: readonly string[]
}

export type Scenario = (opts?: ScenarioOptions) => Promise<ScenarioResult>

/** Builds a metric from samples (median of each side) and its target. */
export function metric(spec: {
  key: string
  label: string
  unit: string
  better: 'higher' | 'lower'
  ours: readonly number[] | number | null
  raw: readonly number[] | number | null
  target?: Target | null
  /** How a side's samples become its figure. Default: median. */
  reduce?: (samples: readonly number[]) => number
  /** Keep the samples in the result. Default true (false for long lists). */
  keepSamples?: boolean
  /** Whether samples i of both sides ran as a pair (a round), for `pairedRatio`. Default true. */
  paired?: boolean
}): Metric {
  const reduce = spec.reduce ?? median
  const value = (v: readonly number[] | number | null): number | null =>
    v === null ? null : typeof v === 'number' ? v : v.length === 0 ? null : reduce(v)
  const ours = value(spec.ours)
  const raw = value(spec.raw)
  const ratio = ours !== null && raw !== null && raw !== 0 ? ours / raw : null
  let pairedRatio: number | null = null
  if (spec.paired !== false && Array.isArray(spec.ours) && Array.isArray(spec.raw)) {
    const a = spec.ours as readonly number[]
    const b = spec.raw as readonly number[]
    if (a.length > 0 && a.length === b.length && b.every((v) => v !== 0)) pairedRatio = median(a.map((v, i) => v / b[i]))
  }
  const target = spec.target ?? null
  let met: boolean | null = null
  if (target !== null) {
    const subject = target.on === 'ratio' ? ratio : ours
    if (subject !== null && Number.isFinite(subject)) met = target.op === '<=' ? subject <= target.value : subject >= target.value
  }
  const samples =
    spec.keepSamples !== false && (Array.isArray(spec.ours) || Array.isArray(spec.raw))
      ? {
          ours: Array.isArray(spec.ours) ? [...(spec.ours as readonly number[])] : [],
          raw: Array.isArray(spec.raw) ? [...(spec.raw as readonly number[])] : []
        }
      : undefined
  return { key: spec.key, label: spec.label, unit: spec.unit, better: spec.better, ours, raw, ratio, pairedRatio, target, met, samples }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]
}

/** Milliseconds, high resolution. */
export function now(): number {
  return performance.now()
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Yields to I/O (a macrotask), as a sender loop must now and then in a one-process benchmark. */
export function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * Runs `ours` and `raw` alternately, A/B/A/B, `rounds` times each, and returns every sample.
 * With `only`, one side runs and the other's samples stay empty.
 */
export async function alternate(
  rounds: number,
  run: { ours: (round: number) => Promise<number>; raw: (round: number) => Promise<number> },
  only?: Side
): Promise<{ ours: number[]; raw: number[] }> {
  const samples = { ours: [] as number[], raw: [] as number[] }
  for (let round = 0; round < rounds; round++) {
    if (only !== 'raw') samples.ours.push(await run.ours(round))
    if (only !== 'ours') samples.raw.push(await run.raw(round))
  }
  return samples
}

/** A random 32-byte topic. */
export function randomTopic(): Buffer {
  return randomBytes(32)
}

/** Resolves with the first value that passes, or rejects after `ms`. */
export function waitFor<T>(source: Observable<T>, predicate: (value: T) => boolean, ms = 30_000): Promise<T> {
  return firstValueFrom(source.pipe(filter(predicate), timeout(ms)))
}

/** Polls `check` every `every` ms until it is true, or rejects after `ms`. */
export async function until(check: () => boolean, ms = 30_000, every = 5, what = 'condition'): Promise<void> {
  const deadline = now() + ms
  while (!check()) {
    if (now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(every)
  }
}

/**
 * Temp dirs, stores and anything else a scenario opens, released in reverse order by
 * `cleanup()` (also after a failure): stores closed, directories removed.
 */
export class Resources {
  private readonly closers: Array<() => unknown> = []

  /** A fresh temp directory, removed at cleanup. */
  tmpdir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-bench-'))
    this.closers.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  /** A Corestore in a fresh temp directory, closed (then its directory removed) at cleanup. */
  store(): Corestore {
    const dir = this.tmpdir()
    const store = new Corestore(dir)
    this.closers.push(() => store.close().catch(() => {}))
    return store
  }

  /** Runs `fn` at cleanup (before everything registered earlier). */
  defer(fn: () => unknown): void {
    this.closers.push(fn)
  }

  async cleanup(): Promise<void> {
    while (this.closers.length > 0) {
      const fn = this.closers.pop() as () => unknown
      try {
        await fn()
      } catch {
        // cleanup goes on
      }
    }
  }
}

/**
 * A short-lived group of resources for one trial: `trial(fn)` runs `fn` with a fresh
 * `Resources` and always cleans it up.
 */
export async function trial<T>(fn: (res: Resources) => Promise<T>): Promise<T> {
  const res = new Resources()
  try {
    return await fn(res)
  } finally {
    await res.cleanup()
  }
}

/** The scenario's network: the one passed in, or a fresh one destroyed at cleanup. */
export async function networkFor(opts: ScenarioOptions, res: Resources): Promise<LocalNetwork> {
  if (opts.net) return opts.net
  const net = await createLocalNetwork({ size: 3 })
  res.defer(() => net.destroy())
  return net
}

/** Options of a bench DHT node beyond the loopback defaults. */
export interface NodeOptions {
  /**
   * dht-rpc's congestion window: requests in flight per 750 ms tick (default 80). Only the
   * topics scenario raises it, on both sides alike.
   */
  maxWindow?: number
}

/** A loopback DHT node on the network (what the raw baselines hand to `new Hyperswarm`). */
export function loopbackNode(net: LocalNetwork, opts: NodeOptions = {}): HyperDHT {
  const options: HyperDHT.DHTOptions & NodeOptions = { bootstrap: [...net.bootstrap], host: '127.0.0.1', ephemeral: true }
  if (opts.maxWindow !== undefined) options.maxWindow = opts.maxWindow
  return new HyperDHT(options)
}

/**
 * A loopback DHT node that has finished bootstrapping. With `res`, it is destroyed at cleanup too
 * (a swarm given it destroys it anyway; a second destroy is harmless).
 */
export async function bootstrappedNode(net: LocalNetwork, res?: Resources, opts?: NodeOptions): Promise<HyperDHT> {
  const node = loopbackNode(net, opts)
  res?.defer(() => node.destroy())
  await node.fullyBootstrapped()
  return node
}

let gcFn: (() => void) | null | undefined

/** `global.gc` (from `--expose-gc`, or enabled at runtime), or null if neither works. */
export function getGc(): (() => void) | null {
  if (gcFn !== undefined) return gcFn
  const exposed = (globalThis as { gc?: () => void }).gc
  if (typeof exposed === 'function') return (gcFn = exposed)
  try {
    v8.setFlagsFromString('--expose-gc')
    const fn: unknown = vm.runInNewContext('gc')
    gcFn = typeof fn === 'function' ? (fn as () => void) : null
  } catch {
    gcFn = null
  }
  return gcFn
}

/** Collects garbage (twice, as finalizers free more) when possible. */
export function collect(): void {
  const gc = getGc()
  if (gc === null) return
  gc()
  gc()
}

/** Heap used and RSS, after a full collection when possible. */
export function memory(): { heapUsed: number; rss: number } {
  collect()
  const { heapUsed, rss } = process.memoryUsage()
  return { heapUsed, rss }
}

/**
 * Bytes allocated on the V8 heap while `fn` runs: heap growth between collections, summed over
 * every collection V8 ran meanwhile (`v8.GCProfiler`), so a collection does not hide what was
 * allocated before it.
 */
export function measureAllocation<T>(fn: () => T): { result: T; bytes: number } {
  collect()
  const profiler = new v8.GCProfiler()
  const start = v8.getHeapStatistics().used_heap_size
  profiler.start()
  const result = fn()
  const end = v8.getHeapStatistics().used_heap_size
  const data = profiler.stop()
  let bytes = 0
  let last = start
  for (const entry of data.statistics) {
    bytes += entry.beforeGC.heapStatistics.usedHeapSize - last
    last = entry.afterGC.heapStatistics.usedHeapSize
  }
  bytes += end - last
  return { result, bytes: Math.max(0, bytes) }
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

export const MiB = 1024 * 1024
