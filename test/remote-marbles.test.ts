/**
 * Code written against `RemoteNetworkerStreams` is marble-testable: `toRemoteStreams` gives the
 * virtual networker of `/testing` the remote shape (hex keys, peers without `stream`).
 */
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { toRemoteStreams, type RemoteNetworkerStreams } from '../lib/remote/client'
import { createVirtualNetworker, makePeer, makeTopicState, makeTopics } from '../lib/testing'

/** A component's view model, as a dashboard would write it against the remote client. */
const peerCount = (networker: RemoteNetworkerStreams) => networker.peers$.pipe(map((peers) => peers.length))

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

test('peers$ of the remote view folds the virtual peer events, with hex keys and no stream', () => {
  scheduler().run((helpers) => {
    const alice = makePeer(1)
    const bob = makePeer(2)
    const remote = toRemoteStreams(
      createVirtualNetworker(helpers, {
        peerEvents: {
          marbles: '-a-b--r',
          values: { a: { type: 'add', peer: alice }, b: { type: 'add', peer: bob }, r: { type: 'remove', peer: alice } }
        }
      })
    )
    helpers.expectObservable(peerCount(remote)).toBe('0a-b--c', { 0: 0, a: 1, b: 2, c: 1 })
    helpers
      .expectObservable(remote.peerEvents$.pipe(map((e) => `${e.type}:${e.peer.remotePublicKey.slice(0, 2)}`)))
      .toBe('-a-b--r', { a: 'add:01', b: 'add:02', r: 'remove:01' })
  })
})

test('topic$ of the remote view is distinct and keyed by hex', () => {
  scheduler().run((helpers) => {
    const key = '07'.repeat(32)
    const joined = makeTopicState(7, { announce: true })
    const flushed = makeTopicState(7, { announce: true, flushed: true })
    const remote = toRemoteStreams(
      createVirtualNetworker(helpers, {
        topics: { marbles: '-a-a-b', values: { a: makeTopics(joined), b: makeTopics(flushed) } }
      })
    )
    helpers.expectObservable(remote.topic$(key).pipe(map((s) => `${s.joined}/${s.flushed}`))).toBe('na---b', {
      n: 'false/false',
      a: 'true/false',
      b: 'true/true'
    })
  })
})

test('messages$ by name: bytes become a plain Uint8Array; an unlisted name errors', () => {
  scheduler().run((helpers) => {
    const peer = makePeer(3)
    const local = createVirtualNetworker(helpers, {
      messages: { blob: { marbles: '--m', values: { m: { message: Buffer.from([1, 2]), peer } } } }
    })
    const remote = toRemoteStreams(local)
    helpers
      .expectObservable(remote.messages$<Uint8Array>('blob').pipe(map((m) => [m.message.constructor.name, [...m.message]])))
      .toBe('--m', { m: ['Uint8Array', [1, 2]] })
    const listed = toRemoteStreams(local, { extensions: [{ name: 'blob' }] })
    helpers.expectObservable(listed.messages$('chat')).toBe(
      '#',
      undefined,
      expect.objectContaining({ code: 'ERR_UNKNOWN_EXTENSION' })
    )
  })
})
