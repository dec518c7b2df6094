import { of, startWith } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { detectFlush } from '../../operators'
import type { DiscoverySignal, SwarmProgress } from '../../operators'
import { createTestScheduler, recordSubscriptions } from './support'

const signals: Record<string, DiscoverySignal> = {
  s: { type: 'start' },
  d: { type: 'discovered' },
  x: { type: 'stop' }
}

const progress: Record<string, SwarmProgress> = {
  /** Nothing dialling, nothing queued: idle. */
  i: { connecting: 0, queued: 0, saturated: false },
  /** Dialling. */
  c: { connecting: 2, queued: 0, saturated: false },
  /** Waiting for a dial slot. */
  q: { connecting: 0, queued: 3, saturated: false },
  /** Dialling and queued, but at the peer limit: dials no more, so idle. */
  S: { connecting: 1, queued: 4, saturated: true }
}

const flushed = { f: false, t: true }

describe('detectFlush', () => {
  let testScheduler: TestScheduler

  beforeEach(() => {
    testScheduler = createTestScheduler()
  })

  it('emits nothing and leaves progress$ alone while the signals never emit', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<DiscoverySignal>('-')
      const progress$ = cold('              i', progress)
      const subs = '                        ^'
      const expected = '                    -'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe([])
    })
  })

  it('completes without a value when the signals are empty', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<DiscoverySignal>('|')
      const progress$ = cold('              i', progress)
      const subs = '                        (^!)'
      const expected = '                    |'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe([])
    })
  })

  it('emits false on start without subscribing to progress$', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('--s--|', signals)
      const progress$ = cold('             i', progress)
      const subs = '                       ^----!'
      const expected = '                   --f--|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe([])
    })
  })

  it('emits true at once on discovered when progress$ is already idle, then releases progress$', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d---|', signals)
      const progress$ = cold('                i---c', progress)
      const subs = '                       ^------!'
      const progressSubs = '               ---(^!)'
      const expected = '                   -f-t---|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('flushes synchronously when progress$ replays an idle snapshot on subscribe', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      // Like a BehaviorSubject: the current snapshot arrives inside subscribe().
      const source = hot<DiscoverySignal>('-s-d---|', signals)
      const updates = cold('                  ---c', progress)
      const progress$ = updates.pipe(startWith(progress.i))
      const subs = '                       ^------!'
      // take(1) has its idle snapshot from startWith before it would subscribe to the updates.
      const progressSubs: string[] = []
      const expected = '                   -f-t---|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(updates.subscriptions).toBe(progressSubs)
    })
  })

  it('waits after discovered until nothing is connecting', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d---------|', signals)
      const progress$ = hot('              c---c--c--i--c-', progress)
      const subs = '                       ^------------!'
      const progressSubs = '               ---^------!   '
      const expected = '                   -f--------t--|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('waits after discovered until nothing is queued', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d--------|', signals)
      const progress$ = hot('              q----q---i-q-', progress)
      const subs = '                       ^-----------!'
      const progressSubs = '               ---^-----!   '
      const expected = '                   -f-------t--|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('counts a saturated swarm as idle although peers are still queued', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d-------|', signals)
      const progress$ = hot('              q----c--S---', progress)
      const subs = '                       ^----------!'
      const progressSubs = '               ---^----!   '
      const expected = '                   -f------t--|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('cancels the wait on a new start, and waits afresh on the next discovered', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d--s-d------|', signals)
      const progress$ = hot('              c---c--i---c-i--', progress)
      const subs = '                       ^--------------!'
      const progressSubs = ['              ---^--!         ',
                            '              --------^----!  ']
      // The idle snapshot at frame 7 falls between start and discovered: it must not flush.
      const expected = '                   -f-----------t-|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('emits false on stop after a flush, and stop cancels a wait', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d-x-s-d-x----|', signals)
      const progress$ = hot('              c---i---c------i-', progress)
      const subs = '                       ^---------------!'
      const progressSubs = ['              ---^!            ',
                            '              ---------^-!     ']
      const expected = '                   -f--tf----------|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('emits only changes: a repeated start, stop or flush emits nothing', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-s-x-d-d-s-x-|', signals)
      const progress$ = cold('                    i', progress)
      const subs = '                       ^--------------!'
      const progressSubs = ['              -------(^!)     ',
                            '              ---------(^!)   ']
      const expected = '                   -f-----t---f---|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('passes an error of progress$ on and releases the signals', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d------|', signals)
      const progress$ = cold('                c--#', progress, new Error('dht down'))
      const subs = '                       ^-----!    '
      const progressSubs = '               ---^--!    '
      const expected = '                   -f----#    '

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed, new Error('dht down'))
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('passes an error of the signals on and releases progress$', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d--#', signals, new Error('boom'))
      const progress$ = cold('                c---', progress)
      const subs = '                       ^-----!'
      const progressSubs = '               ---^--!'
      const expected = '                   -f----#'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed, new Error('boom'))
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('completes with the signals, releasing progress$ without a flush', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d--|', signals)
      const progress$ = cold('                c----i', progress)
      const subs = '                       ^-----!'
      const progressSubs = '               ---^--!'
      const expected = '                   -f----|'

      expectObservable(source.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('releases the signals and progress$ on early unsubscribe', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-s-d-------|', signals)
      const progress$ = hot('              c------i----', progress)
      const unsub = '                      -----!      '
      const subs = '                       ^----!      '
      const progressSubs = '               ---^-!      '
      const expected = '                   -f---       '

      expectObservable(source.pipe(detectFlush(progress$)), unsub).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })

  it('works with synchronous signals and a progress$ that replays an idle snapshot', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = recordSubscriptions(of(signals.s, signals.d), testScheduler)
      const updates = cold(' -c', progress)
      const progress$ = updates.pipe(startWith(progress.i))
      const subs = '        (^!)'
      const progressSubs: string[] = [] // the replayed idle snapshot is enough
      const expected = '    (ft|)'

      expectObservable(source.observable.pipe(detectFlush(progress$))).toBe(expected, flushed)
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(updates.subscriptions).toBe(progressSubs)
    })
  })

  it('passes a signal it cannot handle to the subscriber as an error and releases progress$', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<DiscoverySignal>('-d-m-', { ...signals, m: null as unknown as DiscoverySignal })
      const progress$ = cold('               c----', progress)
      const subs = '                         ^--!'
      const progressSubs = '                 -^-!'

      expectObservable(source.pipe(detectFlush(progress$))).toBe('---#', undefined, expect.any(TypeError))
      expectSubscriptions(source.subscriptions).toBe(subs)
      expectSubscriptions(progress$.subscriptions).toBe(progressSubs)
    })
  })
})
