import { map, of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { peerSet } from '../../operators'
import type { PeerEvent } from '../../operators'
import { createTestScheduler, recordSubscriptions } from './support'

interface Peer {
  readonly name: string
}

const alice: Peer = { name: 'alice' }
const bob: Peer = { name: 'bob' }
/** Equal to `alice` field by field, but another peer: membership is by identity. */
const aliceTwin: Peer = { name: 'alice' }

const events: Record<string, PeerEvent<Peer>> = {
  a: { type: 'add', peer: alice },
  b: { type: 'add', peer: bob },
  t: { type: 'add', peer: aliceTwin },
  x: { type: 'remove', peer: alice },
  y: { type: 'remove', peer: bob },
  z: { type: 'remove', peer: aliceTwin },
  s: { type: 'swap', peer: alice }
}

const sets: Record<string, readonly Peer[]> = {
  e: [],
  a: [alice],
  b: [bob],
  A: [alice, bob],
  B: [bob, alice]
}

describe('peerSet', () => {
  let testScheduler: TestScheduler

  beforeEach(() => {
    testScheduler = createTestScheduler()
  })

  it('emits the empty set on subscribe and nothing more from a source that never emits', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<PeerEvent<Peer>>('-')
      const subs = '       ^'
      const expected = '   e'

      expectObservable(source.pipe(peerSet())).toBe(expected, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits the empty set then completes when the source is empty', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<PeerEvent<Peer>>('|')
      const subs = '                        (^!)'
      const expected = '                    (e|)'

      expectObservable(source.pipe(peerSet())).toBe(expected, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits no initial set with emitInitial: false', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('--a--|', events)
      const subs = '                       ^----!'
      const expected = '                   --a--|'

      expectObservable(source.pipe(peerSet({ emitInitial: false }))).toBe(expected, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits the set with the member after one add', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('---a---|', events)
      const subs = '                       ^------!'
      const expected = '                   e--a---|'

      expectObservable(source.pipe(peerSet())).toBe(expected, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('keeps members in order of arrival, a re-added member going last', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('-a-b-x-a-y-|', events)
      const subs = '                       ^----------!'
      const expected = '                   ea-A-b-B-a-|'

      expectObservable(source.pipe(peerSet())).toBe(expected, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits nothing for a swap: the membership did not change', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('-a--s--s-|', events)
      const subs = '                       ^--------!'
      const expected = '                   ea-------|'

      expectObservable(source.pipe(peerSet())).toBe(expected, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits nothing for a second add of a member or a remove of a stranger', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('-y-a-a-y-x-x-|', events)
      const subs = '                       ^------------!'
      const expected = '                   e--a-----e---|'

      expectObservable(source.pipe(peerSet())).toBe(expected, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('compares members by identity, not by their fields', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      // alice and aliceTwin are equal field by field: both are members, each removed on its own.
      const source = hot<PeerEvent<Peer>>('-a-t-z-z-x-|', events)
      const subs = '                       ^----------!'
      const expected = '                   ea-T-a---e-|'

      // toEqual cannot tell alice from her twin: compare who is in the set by identity.
      const who = (peers: readonly Peer[]): string =>
        peers.map((peer) => (peer === alice ? 'alice' : peer === aliceTwin ? 'twin' : 'other')).join(',')
      const labels = { e: '', a: 'alice', T: 'alice,twin' }

      expectObservable(source.pipe(peerSet(), map(who))).toBe(expected, labels)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits frozen arrays, a new one for each change', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('-a-b-x-|', events)
      const subs = '                       ^------!'
      const expected = '                   ff-f-f-|'

      const seen: Array<readonly Peer[]> = []
      const result = source.pipe(
        peerSet(),
        map((peers) => {
          const fresh = !seen.includes(peers)
          seen.push(peers)
          return Object.isFrozen(peers) && fresh
        })
      )

      expectObservable(result).toBe(expected, { f: true })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('passes an error through after the sets before it', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('-a-b-#', events, new Error('boom'))
      const subs = '                       ^----!'
      const expected = '                   ea-A-#'

      expectObservable(source.pipe(peerSet())).toBe(expected, sets, new Error('boom'))
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('stops emitting and releases the source on early unsubscribe', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('-a-b-x-|', events)
      const unsub = '                      ----!   '
      const subs = '                       ^---!   '
      const expected = '                   ea-A    '

      expectObservable(source.pipe(peerSet()), unsub).toBe(expected, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('gives each subscription its own set, starting empty', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('-a--b--y-|', events)
      const late = '                       ---^      '
      const subs = ['                      ^--------!',
                    '                      ---^-----!']
      const expectedEarly = '              ea--A--a-|'
      const expectedLate = '               ---eb--e-|'

      const result = source.pipe(peerSet())
      expectObservable(result).toBe(expectedEarly, sets)
      expectObservable(result, late).toBe(expectedLate, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('works with a synchronous source', () => {
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const source = recordSubscriptions(of(events.a, events.b, events.s, events.x), testScheduler)
      const subs = '    (^!)'
      const expected = '(eaAb|)'

      expectObservable(source.observable.pipe(peerSet())).toBe(expected, sets)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('passes an event it cannot fold to the subscriber as an error (not to the global handler)', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PeerEvent<Peer>>('-a-m-b', { ...events, m: null as unknown as PeerEvent<Peer> })
      const subs = '                       ^--!'
      const expected = '                   ea-#'

      expectObservable(source.pipe(peerSet())).toBe(expected, sets, expect.any(TypeError))
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })
})
