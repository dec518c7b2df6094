import { TestScheduler } from 'rxjs/testing'
import { createVirtualNetworker, makePeer, makeTopicState, makeTopics } from '../lib/testing'
import type { NetworkerPeerEvent } from '../lib/reactive-networker'
import { noPeersAlert } from './no-peers-alert'

const KEY = 'ab'.repeat(32)
const joined = makeTopics(makeTopicState(KEY, { announce: true, lookup: true }))
const left = makeTopics()
const alice = makePeer(1)
const events: Record<string, NetworkerPeerEvent> = {
  a: { type: 'add', peer: alice },
  r: { type: 'remove', peer: alice }
}

describe('noPeersAlert (an app pipeline marble-tested with the testing kit)', () => {
  let scheduler: TestScheduler
  beforeEach(() => {
    scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  })

  it('raises the alert after 5 s joined without peers, clears it when a peer arrives', () => {
    scheduler.run((helpers) => {
      const networker = createVirtualNetworker(helpers, {
        topics: { marbles: '-j', values: { j: joined } },
        peerEvents: { marbles: '-- 6s a', values: events }
      })
      const expected = 'f 5000ms t 1000ms f'
      helpers.expectObservable(noPeersAlert(networker, KEY, { after: 5000 })).toBe(expected, { f: false, t: true })
    })
  })

  it('never alerts while a peer is connected, and alerts again after the last peer leaves', () => {
    scheduler.run((helpers) => {
      const networker = createVirtualNetworker(helpers, {
        topics: { marbles: 'j', values: { j: joined } },
        peerEvents: { marbles: 'a 9s r', values: events }
      })
      const expected = 'f 9s 5000ms t'
      helpers.expectObservable(noPeersAlert(networker, KEY, { after: 5000 })).toBe(expected, { f: false, t: true })
    })
  })

  it('clears the alert when the topic is left', () => {
    scheduler.run((helpers) => {
      const networker = createVirtualNetworker(helpers, {
        topics: { marbles: 'j 6s l', values: { j: joined, l: left } }
      })
      const expected = 'f 4999ms t 1000ms f'
      helpers.expectObservable(noPeersAlert(networker, KEY, { after: 5000 })).toBe(expected, { f: false, t: true })
    })
  })

  it('the virtual networker and the real one share one interface', () => {
    // A compile-time check: ReactiveNetworker `implements NetworkerStreams`, and the kit returns it.
    scheduler.run((helpers) => {
      const streams = createVirtualNetworker(helpers)
      helpers.expectObservable(streams.peers$).toBe('e', { e: [] })
      helpers.expectObservable(streams.topics$).toBe('m', { m: new Map() })
    })
  })
})
