import { of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { topicEvents } from '../../operators'
import type { TopicEvent, TopicState } from '../../operators'
import { createTestScheduler, recordSubscriptions } from './support'

const K1 = new Uint8Array(32).fill(1)
const K2 = new Uint8Array(32).fill(2)
const state = (discoveryKey: Uint8Array, joined: boolean, flushed = false): TopicState => ({
  discoveryKey,
  announce: joined,
  lookup: false,
  joined,
  flushed
})
type Topics = ReadonlyMap<string, TopicState>
const maps: Record<string, Topics> = {
  e: new Map(),
  j: new Map([['01', state(K1, true)]]),
  f: new Map([['01', state(K1, true, true)]]),
  b: new Map([
    ['01', state(K1, true, true)],
    ['02', state(K2, true)]
  ]),
  n: new Map([['01', state(K1, false)]])
}
const ev = (type: TopicEvent['type'], discoveryKey: Uint8Array): TopicEvent => ({ type, discoveryKey })
const events: Record<string, TopicEvent> = {
  J: ev('joined', K1),
  F: ev('flushed', K1),
  L: ev('left', K1),
  K: ev('joined', K2),
  M: ev('left', K2)
}

describe('topicEvents', () => {
  let testScheduler: TestScheduler

  beforeEach(() => {
    testScheduler = createTestScheduler()
  })

  it('emits nothing while the source never emits, and completes with an empty source', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<Topics>('-').pipe(topicEvents())).toBe('-')
      expectObservable(cold<Topics>('|').pipe(topicEvents())).toBe('|')
    })
  })

  it('reports joined, then flushed, then left as the maps change', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Topics>('-j-f-e-|', maps)
      const subs = '             ^------!'
      expectObservable(source.pipe(topicEvents())).toBe('-J-F-L-|', events)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('compares the first map with the empty one: a flushed topic emits joined then flushed at once', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot<Topics>('-f-', maps).pipe(topicEvents())).toBe('-(JF)-', events)
    })
  })

  it('reports each key on its own, and a key still present but not joined as left', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot<Topics>('-f---b---n-', maps).pipe(topicEvents())).toBe('-(JF)K---(LM)', events)
    })
  })

  it('emits flushed again after a refresh cleared it, and nothing for an unchanged map', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot<Topics>('-f---j-f-f-', maps).pipe(topicEvents())).toBe('-(JF)--F---', events)
    })
  })

  it('passes an error through, and a malformed map becomes the output’s error', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot<Topics>('-j-#', maps).pipe(topicEvents())).toBe('-J-#', events)
      const malformed = new Map([['01', null]]) as unknown as Topics
      expectObservable(hot<Topics>('-m-', { m: malformed }).pipe(topicEvents())).toBe('-#', undefined, expect.any(TypeError))
    })
  })

  it('stops and releases the source on early unsubscribe', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Topics>('-j-f-e-', maps)
      expectObservable(source.pipe(topicEvents()), '^--!').toBe('-J-', events)
      expectSubscriptions(source.subscriptions).toBe('^--!')
    })
  })

  it('works with a synchronous source, each subscription comparing from its own first map', () => {
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const source = recordSubscriptions(of(maps.j, maps.f), testScheduler)
      const out = source.observable.pipe(topicEvents())
      expectObservable(out).toBe('(JF|)', events)
      expectObservable(out).toBe('(JF|)', events)
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '(^!)'])
    })
  })
})
