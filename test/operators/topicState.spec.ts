import { map, of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { topicState } from '../../operators'
import type { TopicInput, TopicState } from '../../operators'
import { createTestScheduler, recordSubscriptions } from './support'

const discoveryKey = Buffer.alloc(32, 7)

const inputs: Record<string, TopicInput> = {
  a: { type: 'configure', announce: true, lookup: false },
  l: { type: 'configure', announce: false, lookup: true },
  b: { type: 'configure', announce: true, lookup: true },
  n: { type: 'configure', announce: false, lookup: false },
  f: { type: 'flushed', flushed: true },
  u: { type: 'flushed', flushed: false }
}

const state = (fields: Partial<Omit<TopicState, 'discoveryKey'>> = {}): TopicState => ({
  discoveryKey,
  announce: false,
  lookup: false,
  joined: false,
  flushed: false,
  ...fields
})

const states: Record<string, TopicState> = {
  /** Not joined: the initial state, and the state after leaving. */
  o: state(),
  a: state({ announce: true, joined: true }),
  A: state({ announce: true, joined: true, flushed: true }),
  l: state({ lookup: true, joined: true }),
  L: state({ lookup: true, joined: true, flushed: true }),
  b: state({ announce: true, lookup: true, joined: true }),
  B: state({ announce: true, lookup: true, joined: true, flushed: true })
}

describe('topicState', () => {
  let testScheduler: TestScheduler

  beforeEach(() => {
    testScheduler = createTestScheduler()
  })

  it('emits nothing while the source never emits', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<TopicInput>('-')
      const subs = '                   ^'
      const expected = '               -'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('completes without a state when the source is empty', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<TopicInput>('|')
      const subs = '                   (^!)'
      const expected = '               |'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits the joined state for one configure', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('--a--|', inputs)
      const subs = '                  ^----!'
      const expected = '              --a--|'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('sets announce and lookup from each configure and is joined when either is', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-a-l-b-n-b-a-|', inputs)
      const subs = '                  ^------------!'
      const expected = '              -a-l-b-o-b-a-|'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('sets flushed on a joined topic and clears it with flushed: false', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-l-f-u-f-|', inputs)
      const subs = '                  ^--------!'
      const expected = '              -l-L-l-L-|'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('starts a new discovery on every configure: flushed goes back to false', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-a-f-a-f-b-|', inputs)
      const subs = '                  ^----------!'
      const expected = '              -a-A-a-A-b-|'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('ignores flushed while the topic is not joined', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      // The first input always yields the first state, even a not-joined, unflushed one.
      const source = hot<TopicInput>('-f-f-a-f-|', inputs)
      const subs = '                  ^--------!'
      const expected = '              -o---a-A-|'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('clears joined and flushed on leave, and stays unflushed after it', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-b-f-n-f-|', inputs)
      const subs = '                  ^--------!'
      const expected = '              -b-B-o---|'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('does not re-emit a state identical to the last one', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-a-a-u-f-f-n-n-|', inputs)
      const subs = '                  ^--------------!'
      const expected = '              -a-----A---o---|'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('starts from the initial option, and emits the first state even when it equals it', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const initial = { announce: true, lookup: true, flushed: true }
      const source = hot<TopicInput>('-f-f-u-|', inputs)
      const subs = '                  ^------!'
      const expected = '              -B---b-|'

      expectObservable(source.pipe(topicState(discoveryKey, initial))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('derives joined from the initial announce/lookup, and never starts flushed when not joined', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-f-|', inputs)
      const subs = '                  ^--!'
      const expected = '              -o-|'

      expectObservable(source.pipe(topicState(discoveryKey, { flushed: true }))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('keeps the rest of a partial initial option at the defaults', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-l-f-|', inputs)
      const subs = '                  ^----!'
      const expected = '              -l-L-|'

      expectObservable(source.pipe(topicState(discoveryKey, { lookup: true }))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits frozen states carrying the discovery key', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-a-f-n-|', inputs)
      const subs = '                  ^------!'
      const expected = '              -y-y-y-|'

      const result = source.pipe(
        topicState(discoveryKey),
        map((s) => Object.isFrozen(s) && s.discoveryKey === discoveryKey)
      )

      expectObservable(result).toBe(expected, { y: true })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('passes an error through after the states before it', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-a-f-#', inputs, new Error('boom'))
      const subs = '                  ^----!'
      const expected = '              -a-A-#'

      expectObservable(source.pipe(topicState(discoveryKey))).toBe(expected, states, new Error('boom'))
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('stops emitting and releases the source on early unsubscribe', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-a-f-n-|', inputs)
      const unsub = '                 ----!   '
      const subs = '                  ^---!   '
      const expected = '              -a-A    '

      expectObservable(source.pipe(topicState(discoveryKey)), unsub).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('starts each subscription from the initial state', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-a--f--|', inputs)
      const late = '                  ---^    '
      const subs = ['                 ^------!',
                    '                 ---^---!']
      // The late subscriber never saw the configure: for it the topic is not joined.
      const expectedEarly = '         -a--A--|'
      const expectedLate = '          ----o--|'

      const result = source.pipe(topicState(discoveryKey))
      expectObservable(result).toBe(expectedEarly, states)
      expectObservable(result, late).toBe(expectedLate, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('works with a synchronous source', () => {
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const source = recordSubscriptions(of(inputs.l, inputs.f, inputs.f, inputs.n), testScheduler)
      const subs = '    (^!)'
      const expected = '(lLo|)'

      expectObservable(source.observable.pipe(topicState(discoveryKey))).toBe(expected, states)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('passes an input it cannot fold to the subscriber as an error (not to the global handler)', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TopicInput>('-m-', { m: null as unknown as TopicInput })
      const subs = '                  ^!'
      expectObservable(source.pipe(topicState(discoveryKey))).toBe('-#', undefined, expect.any(TypeError))
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })
})
