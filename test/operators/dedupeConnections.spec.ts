import { of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { dedupeConnections } from '../../operators'
import type { ConnectionEvent, ConnectionLike, DedupeEvent } from '../../operators'
import { RecordingScheduler, createTestScheduler, recordSubscriptions } from './support'

/** A plain-object connection; `name` only tells connections apart in marble failures. */
interface FakeConnection extends ConnectionLike {
  readonly name: string
}

const KEY_A = Buffer.alloc(32, 1)
const KEY_B = Buffer.alloc(32, 2)
const KEY_C = Buffer.alloc(32, 3)
const hexB = KEY_B.toString('hex')
const hexC = KEY_C.toString('hex')

const connection = (
  name: string,
  publicKey: Buffer,
  remotePublicKey: Buffer,
  isInitiator: boolean
): FakeConnection => ({ name, publicKey, remotePublicKey, isInitiator })

// Seen from A (the smaller key): connections to B.
const toB1 = connection('A dialled B', KEY_A, KEY_B, true)
const toB2 = connection('A redialled B', KEY_A, KEY_B, true)
const fromB = connection('B dialled A', KEY_A, KEY_B, false)
// Seen from A: a connection to C, another remote key.
const toC = connection('A dialled C', KEY_A, KEY_C, true)

type Event = ConnectionEvent<FakeConnection>
type Output = DedupeEvent<FakeConnection>

const open = (c: FakeConnection): Event => ({ type: 'open', connection: c })
const close = (c: FakeConnection): Event => ({ type: 'close', connection: c })

const add = (key: string, c: FakeConnection): Output => ({ type: 'add', key, connection: c })
const swap = (key: string, c: FakeConnection, previous: FakeConnection): Output => ({
  type: 'swap',
  key,
  connection: c,
  previous
})
const remove = (key: string, c: FakeConnection): Output => ({ type: 'remove', key, connection: c })
const drop = (key: string, c: FakeConnection): Output => ({ type: 'drop', key, connection: c })

const dedupe = (graceTime: number, scheduler: TestScheduler | RecordingScheduler) =>
  dedupeConnections<FakeConnection>({ graceTime, scheduler })

describe('dedupeConnections', () => {
  let testScheduler: TestScheduler

  beforeEach(() => {
    testScheduler = createTestScheduler()
  })

  it('emits nothing while the source never emits', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Event>('-')
      const subs = '              ^'
      const expected = '          -'

      expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('completes without events when the source is empty', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Event>('|')
      const subs = '              (^!)'
      const expected = '          |'

      expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected)
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits add for the first open of a remote key', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('--o--|', { o: open(toB1) })
      const subs = '             ^----!'
      const expected = '         --a--|'

      expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected, { a: add(hexB, toB1) })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits remove exactly graceTime after a close that nothing replaces', () => {
    testScheduler.run(({ hot, time, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('--o--c--------|', { o: open(toB1), c: close(toB1) })
      const grace = time('            ---|          ')
      const subs = '             ^-------------!'
      const expected = '         --a-----r-----|'

      expectObservable(source.pipe(dedupe(grace, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        r: remove(hexB, toB1)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits swap with the previous connection for an open within the grace time, and no remove or add', () => {
    testScheduler.run(({ hot, time, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('--o--c----p------|', { o: open(toB1), c: close(toB1), p: open(toB2) })
      const grace = time('            ------|         ')
      const subs = '             ^----------------!'
      const expected = '         --a-------s------|'

      expectObservable(source.pipe(dedupe(grace, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        s: swap(hexB, toB2, toB1)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('emits remove then add for an open after the grace time', () => {
    testScheduler.run(({ hot, time, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('--o--c-----p--|', { o: open(toB1), c: close(toB1), p: open(toB2) })
      const grace = time('            ---|          ')
      const subs = '             ^-------------!'
      const expected = '         --a-----r--b--|'

      expectObservable(source.pipe(dedupe(grace, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        r: remove(hexB, toB1),
        b: add(hexB, toB2)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('removes a swapped-in connection graceTime after its own close', () => {
    testScheduler.run(({ hot, time, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('-o-c-p-c-q-----|', {
        o: open(toB1),
        c: close(toB1),
        p: open(toB2),
        q: close(toB2)
      })
      const grace = time('                ---|    ')
      const subs = '             ^--------------!'
      const expected = '         -a---s------r--|'

      expectObservable(source.pipe(dedupe(grace, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        s: swap(hexB, toB2, toB1),
        r: remove(hexB, toB2)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('removes at once with graceTime 0', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('--o--c--|', { o: open(toB1), c: close(toB1) })
      const subs = '             ^-------!'
      const expected = '         --a--r--|'

      expectObservable(source.pipe(dedupe(0, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        r: remove(hexB, toB1)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  describe('two live connections to one key (A has the smaller key)', () => {
    it('keeps a newcomer that wins the tie-break: swap, then drop of the old one', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        // At A, publicKey > remotePublicKey is false: the connection A did not dial wins.
        const source = hot<Event>('-o--n---|', { o: open(toB1), n: open(fromB) })
        const subs = '             ^-------!'
        const expected = '         -a--(sd)|'

        expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected, {
          a: add(hexB, toB1),
          s: swap(hexB, fromB, toB1),
          d: drop(hexB, toB1)
        })
        expectSubscriptions(source.subscriptions).toBe(subs)
      })
    })

    it('drops a newcomer that loses the tie-break and keeps the current one', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<Event>('-n--o---|', { n: open(fromB), o: open(toB1) })
        const subs = '             ^-------!'
        const expected = '         -a--d---|'

        expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected, {
          a: add(hexB, fromB),
          d: drop(hexB, toB1)
        })
        expectSubscriptions(source.subscriptions).toBe(subs)
      })
    })

    it('keeps the current connection against a newcomer the key rule refuses, while the current one is not established', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        // Both dialled by A, the smaller key: Hyperswarm keeps the existing one (keepNew false).
        const source = hot<Event>('-o--p---|', { o: open(toB1), p: open(toB2) })
        const subs = '             ^-------!'
        const expected = '         -a--d---|'

        expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected, {
          a: add(hexB, toB1),
          d: drop(hexB, toB2)
        })
        expectSubscriptions(source.subscriptions).toBe(subs)
      })
    })

    it('ignores the later close of a replaced connection', () => {
      testScheduler.run(({ hot, time, expectObservable, expectSubscriptions }) => {
        const source = hot<Event>('-o-n-c-------m----|', {
          o: open(toB1),
          n: open(fromB),
          c: close(toB1),
          m: close(fromB)
        })
        const grace = time('                    ---|     ')
        const subs = '             ^-----------------!'
        const expected = '         -a-(sd)---------r-|'

        expectObservable(source.pipe(dedupe(grace, testScheduler))).toBe(expected, {
          a: add(hexB, toB1),
          s: swap(hexB, fromB, toB1),
          d: drop(hexB, toB1),
          r: remove(hexB, fromB)
        })
        expectSubscriptions(source.subscriptions).toBe(subs)
      })
    })

    it('ignores the later close of a dropped newcomer, before and after the key is removed', () => {
      testScheduler.run(({ hot, time, expectObservable, expectSubscriptions }) => {
        const source = hot<Event>('-n-o-c---m-----c-|', {
          n: open(fromB),
          o: open(toB1),
          c: close(toB1),
          m: close(fromB)
        })
        const grace = time('                ---|        ')
        const subs = '             ^----------------!'
        const expected = '         -a-d--------r----|'

        expectObservable(source.pipe(dedupe(grace, testScheduler))).toBe(expected, {
          a: add(hexB, fromB),
          d: drop(hexB, toB1),
          r: remove(hexB, fromB)
        })
        expectSubscriptions(source.subscriptions).toBe(subs)
      })
    })
  })

  describe('the tie-break picks the same connection at both ends', () => {
    // One physical connection seen from each end: the keys are mirrored and so is isInitiator.
    const dialledByA = {
      atA: connection('dialled by A', KEY_A, KEY_B, true),
      atB: connection('dialled by A', KEY_B, KEY_A, false)
    }
    const dialledByB = {
      atA: connection('dialled by B', KEY_A, KEY_B, false),
      atB: connection('dialled by B', KEY_B, KEY_A, true)
    }
    const hexA = KEY_A.toString('hex')

    it.each([
      { end: 'A', first: 'dialled by A', key: hexB, older: dialledByA.atA, newer: dialledByB.atA },
      { end: 'B', first: 'dialled by A', key: hexA, older: dialledByA.atB, newer: dialledByB.atB }
    ])('at $end, with the connection $first first, the one B dialled replaces it', ({ key, older, newer }) => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<Event>('-o--n---|', { o: open(older), n: open(newer) })
        const subs = '             ^-------!'
        const expected = '         -a--(sd)|'

        expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected, {
          a: add(key, older),
          s: swap(key, newer, older),
          d: drop(key, older)
        })
        expectSubscriptions(source.subscriptions).toBe(subs)
      })
    })

    it.each([
      { end: 'A', first: 'dialled by B', key: hexB, older: dialledByB.atA, newer: dialledByA.atA },
      { end: 'B', first: 'dialled by B', key: hexA, older: dialledByB.atB, newer: dialledByA.atB }
    ])('at $end, with the connection $first first, the one A dialled is dropped', ({ key, older, newer }) => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<Event>('-o--n---|', { o: open(older), n: open(newer) })
        const subs = '             ^-------!'
        const expected = '         -a--d---|'

        expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected, {
          a: add(key, older),
          d: drop(key, newer)
        })
        expectSubscriptions(source.subscriptions).toBe(subs)
      })
    })

    it('both ends keep the connection dialled by B even when they see the two in opposite orders', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const atA = hot<Event>('-o--n---|', { o: open(dialledByA.atA), n: open(dialledByB.atA) })
        const atB = hot<Event>('-n--o---|', { n: open(dialledByB.atB), o: open(dialledByA.atB) })
        const subs = '          ^-------!'
        const expectedAtA = '   -a--(sd)|'
        const expectedAtB = '   -a--d---|'

        expectObservable(atA.pipe(dedupe(3, testScheduler))).toBe(expectedAtA, {
          a: add(hexB, dialledByA.atA),
          s: swap(hexB, dialledByB.atA, dialledByA.atA),
          d: drop(hexB, dialledByA.atA)
        })
        expectObservable(atB.pipe(dedupe(3, testScheduler))).toBe(expectedAtB, {
          a: add(hexA, dialledByB.atB),
          d: drop(hexA, dialledByA.atB)
        })
        expectSubscriptions(atA.subscriptions).toBe(subs)
        expectSubscriptions(atB.subscriptions).toBe(subs)
      })
    })
  })

  describe("Hyperswarm's existingIsOutdated rule: an established connection gives way", () => {
    // The remote lost an established connection and dialled again: Hyperswarm keeps the new one
    // whatever the key rule says. Both ends must decide the same, or both connections close.
    const established = <C extends FakeConnection>(c: C): C => ({ ...c, rawBytesRead: 512, rawBytesWritten: 512 })
    const oldAtA = established(connection('dialled by B, established', KEY_A, KEY_B, false))
    const oldAtB = established(connection('dialled by B, established', KEY_B, KEY_A, true))
    const newAtA = connection('redialled by A', KEY_A, KEY_B, true)
    const newAtB = connection('redialled by A', KEY_B, KEY_A, false)
    const hexA = KEY_A.toString('hex')

    it('both ends replace the established connection with the newcomer the key rule alone would refuse', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const atA = hot<Event>('-o--n---|', { o: open(oldAtA), n: open(newAtA) })
        const atB = hot<Event>('-o--n---|', { o: open(oldAtB), n: open(newAtB) })
        const expected = '      -a--(sd)|'

        expectObservable(atA.pipe(dedupe(3, testScheduler))).toBe(expected, {
          a: add(hexB, oldAtA),
          s: swap(hexB, newAtA, oldAtA),
          d: drop(hexB, oldAtA)
        })
        expectObservable(atB.pipe(dedupe(3, testScheduler))).toBe(expected, {
          a: add(hexA, oldAtB),
          s: swap(hexA, newAtB, oldAtB),
          d: drop(hexA, oldAtB)
        })
      })
    })

    it('a connection that has only read (or only written) is not established', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const halfOpen = { ...connection('dialled by B, half', KEY_A, KEY_B, false), rawBytesRead: 512, rawBytesWritten: 0 }
        const source = hot<Event>('-o--n---|', { o: open(halfOpen), n: open(newAtA) })
        expectObservable(source.pipe(dedupe(3, testScheduler))).toBe('-a--d---|', {
          a: add(hexB, halfOpen),
          d: drop(hexB, newAtA)
        })
      })
    })
  })

  it('passes an event it cannot handle to the subscriber as an error, cancelling the grace timers', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const malformed = { type: 'open', connection: null } as unknown as Event
      const source = hot<Event>('-o-c-m--', { o: open(toB1), c: close(toB1), m: malformed })
      const subs = '             ^----!'
      const expected = '         -a---#'

      expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected, { a: add(hexB, toB1) }, expect.any(TypeError))
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('ignores a second open of the very same connection', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('-o--o--o-|', { o: open(toB1) })
      const subs = '             ^--------!'
      const expected = '         -a-------|'

      expectObservable(source.pipe(dedupe(3, testScheduler))).toBe(expected, { a: add(hexB, toB1) })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('keeps remote keys independent of each other', () => {
    testScheduler.run(({ hot, time, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('-b-c-x--p--y------|', {
        b: open(toB1),
        c: open(toC),
        x: close(toB1),
        p: open(toB2),
        y: close(toC)
      })
      const grace = time('                  ----|    ')
      const subs = '             ^-----------------!'
      const expected = '         -a-A----s------R--|'

      expectObservable(source.pipe(dedupe(grace, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        A: add(hexC, toC),
        s: swap(hexB, toB2, toB1),
        R: remove(hexC, toC)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('removes peers waiting in their grace time at once when the source completes', () => {
    testScheduler.run(({ hot, time, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('-b-c-x-y-|', {
        b: open(toB1),
        c: open(toC),
        x: close(toB1),
        y: close(toC)
      })
      const grace = time('            ----------|')
      const subs = '             ^--------!'
      const expected = '         -a-A-----(rR|)'

      expectObservable(source.pipe(dedupe(grace, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        A: add(hexC, toC),
        r: remove(hexB, toB1),
        R: remove(hexC, toC)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('removes only the peers in their grace time at completion, not the live ones', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('-b-c-x-|', { b: open(toB1), c: open(toC), x: close(toB1) })
      const subs = '             ^------!'
      const expected = '         -a-A---(r|)'

      expectObservable(source.pipe(dedupe(10, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        A: add(hexC, toC),
        r: remove(hexB, toB1)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('passes an error through and cancels the grace timers', () => {
    const scheduler = new RecordingScheduler(testScheduler)
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('-o-c-#', { o: open(toB1), c: close(toB1) }, new Error('boom'))
      const subs = '             ^----!'
      const expected = '         -a---#'

      expectObservable(source.pipe(dedupe(5, scheduler))).toBe(expected, { a: add(hexB, toB1) }, new Error('boom'))
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
    expect(scheduler.timers).toHaveLength(1)
    expect(scheduler.timers[0]?.closed).toBe(true)
    expect(scheduler.firedAt).toEqual([])
  })

  it('stops emitting and cancels the grace timers on early unsubscribe', () => {
    const scheduler = new RecordingScheduler(testScheduler)
    testScheduler.run(({ hot, time, expectObservable, expectSubscriptions }) => {
      const source = hot<Event>('--o--c---------|', { o: open(toB1), c: close(toB1) })
      const grace = time('            -----|      ')
      const unsub = '            -------!        '
      const subs = '             ^------!        '
      const expected = '         --a-----        '

      expectObservable(source.pipe(dedupe(grace, scheduler)), unsub).toBe(expected, { a: add(hexB, toB1) })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
    // The timer set at frame 5 would have fired at frame 10, after unsubscribing at frame 7.
    expect(scheduler.timers).toHaveLength(1)
    expect(scheduler.timers[0]?.closed).toBe(true)
    expect(scheduler.firedAt).toEqual([])
  })

  it('works with a synchronous source, swapping within the grace time', () => {
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const source = recordSubscriptions(of(open(toB1), close(toB1), open(toB2)), testScheduler)
      const subs = '    (^!)'
      const expected = '(as|)'

      expectObservable(source.observable.pipe(dedupe(3, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        s: swap(hexB, toB2, toB1)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })

  it('works with a synchronous source, removing at completion', () => {
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const source = recordSubscriptions(of(open(toB1), close(toB1)), testScheduler)
      const subs = '    (^!)'
      const expected = '(ar|)'

      expectObservable(source.observable.pipe(dedupe(3, testScheduler))).toBe(expected, {
        a: add(hexB, toB1),
        r: remove(hexB, toB1)
      })
      expectSubscriptions(source.subscriptions).toBe(subs)
    })
  })
})
