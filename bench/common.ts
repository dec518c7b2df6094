/// <reference path="../types/index.d.ts" preserve="true" />
/**
 * What the benchmark scenarios share beyond the helper kit of test/kit (waits, topics, GC and
 * memory, firewalled DHT nodes): result types, statistics, A/B alternation, and the resources
 * of a trial.
 */
import Corestore from 'corestore'
import type HyperDHT from 'hyperdht'
import fs from 'fs'
import os from 'os'
import path from 'path'
import { parseArgs } from 'util'
import { createLocalNetwork, LocalNetwork } from '../lib/testnet'
import { firewalledNode, type FirewalledNodeOptions } from '../test/kit/dht'

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

/**
 * A {@link firewalledNode} (what both sides of every scenario are given) that has finished
 * bootstrapping. With `res`, it is destroyed at cleanup too (a swarm given it destroys it
 * anyway; a second destroy is harmless).
 */
export async function bootstrappedFirewalledNode(net: LocalNetwork, res?: Resources, opts?: FirewalledNodeOptions): Promise<HyperDHT> {
  const node = firewalledNode(net, opts)
  res?.defer(() => node.destroy())
  await node.fullyBootstrapped()
  return node
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

export const MiB = 1024 * 1024

/** The value of `--name <value>` on this process's command line, if given. */
export function stringArg(name: string): string | undefined {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { [name]: { type: 'string' } }, strict: false, allowPositionals: true })
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

/** The number given as `--name <n>` on this process's command line, else `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const value = stringArg(name)
  return value === undefined ? fallback : Number(value)
}
