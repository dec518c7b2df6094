import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import type { NetworkerPeerEvent } from '../lib'
import { createVirtualNetworker, makePeer, makeTopicState, makeTopics } from '../lib/testing'

const assertEqual = (actual: unknown, expected: unknown) => expect(actual).toEqual(expected)
const alice = makePeer(1)
const events: Record<string, NetworkerPeerEvent> = {
  a: { type: 'add', peer: alice },
  r: { type: 'remove', peer: alice }
}

describe('the testing kit', () => {
  it('runs the example of its JSDoc as written', () => {
    new TestScheduler(assertEqual).run((helpers) => {
      const networker = createVirtualNetworker(helpers, { peerEvents: { marbles: '-a---r', values: events } })
      helpers.expectObservable(networker.peers$.pipe(map((p) => p.length))).toBe('0a---b', { 0: 0, a: 1, b: 0 })
    })
  })

  it('tracks state from its creation: a subscriber that comes at 40 s sees the peers and topics of 40 s', () => {
    new TestScheduler(assertEqual).run((helpers) => {
      const key = 'ab'.repeat(32)
      const joined = makeTopics(makeTopicState(key, { announce: true, flushed: true }))
      const networker = createVirtualNetworker(helpers, {
        peerEvents: { marbles: '-a', values: events },
        topics: { marbles: '--j', values: { j: joined } }
      })
      const late = '40s ^'
      helpers.expectObservable(networker.peers$.pipe(map((p) => p.length)), late).toBe('40s p', { p: 1 })
      helpers
        .expectObservable(networker.topic$(key).pipe(map((s) => [s.joined, s.flushed])), late)
        .toBe('40s t', { t: [true, true] })
    })
  })

  it('makePeer builds a browser-safe Peer: Uint8Array keys and an inert stream', () => {
    const peer = makePeer('cd'.repeat(32), '10.0.0.1:7')
    expect(peer.remotePublicKey).toBeInstanceOf(Uint8Array)
    expect(peer.remotePublicKey[0]).toBe(0xcd)
    expect(peer.stream.remotePublicKey).toBe(peer.remotePublicKey)
    expect(peer.stream.on('close', () => undefined)).toBe(peer.stream)
    peer.stream.destroy()
    expect(peer.stream.destroyed).toBe(true)
    expect(Object.isFrozen(peer)).toBe(true)
  })
})
