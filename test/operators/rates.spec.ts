import { of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { rates } from '../../operators'
import type { CounterRates, CounterSample } from '../../operators'
import { createTestScheduler, recordSubscriptions } from './support'

type Name = 'in' | 'out'

const samples: Record<string, CounterSample<Name>> = {
  a: { at: 0, values: { in: 0, out: 0 } },
  b: { at: 1000, values: { in: 500, out: 100 } },
  /** Two seconds after b: an irregular tick. */
  c: { at: 3000, values: { in: 1500, out: 100 } },
  /** Half a second after c, `in` went down: its connection was replaced (a reset). */
  r: { at: 3500, values: { in: 100, out: 300 } },
  /** The same instant as b, with other values. */
  s: { at: 1000, values: { in: 900, out: 900 } },
  /** Before a: the clock went back. */
  k: { at: -500, values: { in: 0, out: 0 } },
  /** After b, without `out` and with a value that is not a number. */
  m: { at: 2000, values: { in: Number.NaN } as Record<Name, number> }
}

const out: Record<string, CounterRates<Name>> = {
  B: { at: 1000, elapsed: 1000, rates: { in: 500, out: 100 } },
  C: { at: 3000, elapsed: 2000, rates: { in: 500, out: 0 } },
  R: { at: 3500, elapsed: 500, rates: { in: 200, out: 400 } },
  /** b measured from k, which restarted the measurement. */
  K: { at: 1000, elapsed: 1500, rates: { in: 1000 / 3, out: 200 / 3 } },
  /** c measured from b, before it m had no rate for `in` and none for `out`. */
  M: { at: 2000, elapsed: 1000, rates: {} },
  /** c measured from m: `in` was not a number there, `out` absent: both count from zero. */
  N: { at: 3000, elapsed: 1000, rates: { in: 1500, out: 100 } }
}

describe('rates', () => {
  let testScheduler: TestScheduler

  beforeEach(() => {
    testScheduler = createTestScheduler()
  })

  it('emits nothing while the source never emits', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<CounterSample<Name>>('-')
      const subs = '                           ^'
      const expected = '                       -'

      expectObservable(source.pipe(rates())).toBe(expected, out)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('completes without a value when the source is empty', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<CounterSample<Name>>('|')
      const subs = '                           (^!)'
      const expected = '                       |'

      expectObservable(source.pipe(rates())).toBe(expected, out)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits nothing for one sample: there is nothing to measure from', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<CounterSample<Name>>('--a--|', samples)
      const subs = '                           ^----!'
      const expected = '                       -----|'

      expectObservable(source.pipe(rates())).toBe(expected, out)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('divides each growth by the real time between samples, on irregular ticks', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<CounterSample<Name>>('-a-b-c-|', samples)
      const subs = '                           ^------!'
      const expected = '                       ---B-C-|'

      expectObservable(source.pipe(rates())).toBe(expected, out)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('measures a counter that went down (a reset) from zero: never a negative rate', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<CounterSample<Name>>('a-b-c-r-|', samples)
      const subs = '                           ^-------!'
      const expected = '                       --B-C-R-|'

      expectObservable(source.pipe(rates())).toBe(expected, out)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('ignores a sample at the same instant as the previous one', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      // Measured from s instead of b, c would give { in: 300, out: 50 } (out reset from 900).
      const source = hot<CounterSample<Name>>('a-b-s-c-|', samples)
      const expected = '                       --B---C-|'

      expectObservable(source.pipe(rates())).toBe(expected, out)
    })
  })

  it('measures from a sample taken before the previous one (the clock went back), emitting nothing for it', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const source = hot<CounterSample<Name>>('a-k-b-|', samples)
      const expected = '                       ----K-|'

      expectObservable(source.pipe(rates())).toBe(expected, out)
    })
  })

  it('gives no rate for a value that is not a number or a counter absent, and counts them from zero later', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const source = hot<CounterSample<Name>>('b-m-c-|', samples)
      const expected = '                       --M-N-|'

      expectObservable(source.pipe(rates())).toBe(expected, out)
    })
  })

  it('passes an error through after the rates before it', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<CounterSample<Name>>('a-b-#', samples)
      const subs = '                           ^---!'
      const expected = '                       --B-#'

      expectObservable(source.pipe(rates())).toBe(expected, out)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('errors on a malformed sample (no values)', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const bad = { at: 5000 } as unknown as CounterSample<Name>
      const source = hot<CounterSample<Name>>('a-x-b', { ...samples, x: bad })
      const expected = '                       --#'

      expectObservable(source.pipe(rates())).toBe(expected, out, new TypeError('Cannot convert undefined or null to object'))
    })
  })

  it('lets go of the source when the subscriber unsubscribes early', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<CounterSample<Name>>('a-b-c-r-|', samples)
      const unsub = '                          ----!'
      const subs = '                           ^---!'
      const expected = '                       --B-'

      expectObservable(source.pipe(rates()), unsub).toBe(expected, out)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('measures a synchronous source in one frame', () => {
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const { observable, subscriptions } = recordSubscriptions(of(samples.a, samples.b, samples.c, samples.r), testScheduler)

      expectObservable(observable.pipe(rates())).toBe('(BCR|)', out)
      expectSubscriptions(subscriptions).toBe('(^!)')
    })
  })

  it('measures each subscription on its own: a late subscriber starts from the first sample it sees', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const source = hot<CounterSample<Name>>('a-b-c-r-|', samples)
      const measured = source.pipe(rates())

      expectObservable(measured).toBe('        --B-C-R-|', out)
      expectObservable(measured, '            ---^').toBe('------R-|', out)
    })
  })
})
