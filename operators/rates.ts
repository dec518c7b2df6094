import { OperatorFunction, filter, map, scan } from 'rxjs'

/**
 * One reading of cumulative counters (bytes so far, blocks so far, …): when it was taken (ms, any
 * clock that only moves forward, such as `Date.now()` or a scheduler's `now()`) and each
 * counter's value by name.
 */
export interface CounterSample<K extends string = string> {
  readonly at: number
  readonly values: Readonly<Record<K, number>>
}

/** What {@link rates} emits: per-second rates over the `elapsed` ms that ended `at`. */
export interface CounterRates<K extends string = string> {
  readonly at: number
  /** Milliseconds since the sample the rates are measured from (always > 0). */
  readonly elapsed: number
  /** Per second, by counter name; never negative. */
  readonly rates: Readonly<Partial<Record<K, number>>>
}

/**
 * How much a cumulative counter grew from `previous` to `current`. A counter that went down was
 * reset (its connection was replaced, its source restarted): it counts again from zero, so the
 * growth is `current`. A counter seen for the first time (`previous` undefined) also counts from
 * zero. Never negative.
 */
export function counterDelta(previous: number | undefined, current: number): number {
  if (previous === undefined || current < previous) return Math.max(0, current)
  return current - previous
}

/**
 * Turns a stream of cumulative counter samples into per-second rates.
 *
 * 1. Each sample after the first emits the rate of every counter it holds: its growth since the
 *    previous sample divided by the real time between the two (`at` − previous `at`), so
 *    irregular ticks give exact rates. The first sample emits nothing (there is nothing to
 *    measure from).
 * 2. A counter lower than in the previous sample was reset: its rate is measured from zero (its
 *    new value), never negative. A counter absent from the previous sample also counts from zero;
 *    one absent from the current sample has no rate.
 * 3. A sample no later than the previous one emits nothing. At the same `at` it is ignored (the
 *    next rate is measured from the earlier sample); earlier than the previous one (the clock
 *    went back) it becomes the sample the next rate is measured from.
 * 4. A value that is not a finite number has no rate and is not measured from.
 * 5. Completion and errors pass through. Each subscription measures on its own.
 *
 * ## Example
 *
 * ```ts
 * import { of } from 'rxjs'
 * import { rates } from '@basestore/networker/operators'
 *
 * of(
 *   { at: 0, values: { bytesIn: 0 } },
 *   { at: 1000, values: { bytesIn: 500 } },
 *   { at: 3000, values: { bytesIn: 1500 } },
 *   { at: 3500, values: { bytesIn: 100 } }
 * )
 *   .pipe(rates())
 *   .subscribe(({ at, rates }) => console.log(at, rates.bytesIn))
 * // Logs:
 * // 1000 500
 * // 3000 500
 * // 3500 200
 * ```
 *
 * @return A function from counter samples to per-second rates.
 */
export function rates<K extends string = string>(): OperatorFunction<CounterSample<K>, CounterRates<K>> {
  return (source) =>
    source.pipe(
      scan<CounterSample<K>, Step<K>>((step, sample) => advance(step.from, sample), { from: null, out: null }),
      filter((step): step is Step<K> & { out: CounterRates<K> } => step.out !== null),
      map((step) => step.out)
    )
}

interface Step<K extends string> {
  /** The sample the next rate is measured from. */
  readonly from: CounterSample<K> | null
  readonly out: CounterRates<K> | null
}

function advance<K extends string>(from: CounterSample<K> | null, sample: CounterSample<K>): Step<K> {
  if (from === null) return { from: sample, out: null }
  const elapsed = sample.at - from.at
  // Rule 3: the same instant is ignored, an earlier one restarts the measurement.
  if (!(elapsed > 0)) return { from: elapsed === 0 ? from : sample, out: null }
  const seconds = elapsed / 1000
  const out: Partial<Record<K, number>> = {}
  for (const name of Object.keys(sample.values) as K[]) {
    const value = sample.values[name]
    if (!Number.isFinite(value)) continue
    const previous = from.values[name]
    out[name] = counterDelta(Number.isFinite(previous) ? previous : undefined, value) / seconds
  }
  return { from: sample, out: Object.freeze({ at: sample.at, elapsed, rates: Object.freeze(out) }) }
}
