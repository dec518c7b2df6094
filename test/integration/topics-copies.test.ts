/**
 * `topics$` hands every subscriber a Map of its own, on every emission (README, `topics$`): one
 * consumer's `.set()`/`.delete()` never shows in another consumer's view, nor in `topics`. The
 * TopicState values inside are frozen, so they can be shared.
 */
import b4a from 'b4a'
import type { TopicState } from '../../lib'
import { createHarness, Harness, randomTopic } from '../kit'

let h: Harness

beforeEach(async () => {
  h = await createHarness()
})

afterEach(async () => {
  await h.cleanup()
})

it('topics$ gives each subscriber its own Map on every emission: one subscriber’s set/delete never reaches another or topics', async () => {
  const n = h.networker()
  const first: Array<Map<string, TopicState>> = []
  const second: Array<Map<string, TopicState>> = []
  n.topics$.subscribe((m) => first.push(m as Map<string, TopicState>))
  n.topics$.subscribe((m) => second.push(m as Map<string, TopicState>))

  const kept = randomTopic()
  const hex = b4a.toString(kept, 'hex')
  await n.configure(kept, { announce: true, lookup: false })
  const mine = first.at(-1)!
  const theirs = second.at(-1)!
  expect(mine.has(hex)).toBe(true)
  expect(theirs.has(hex)).toBe(true)
  expect(mine).not.toBe(theirs)

  // One consumer changes its Map; the other's view and the snapshot stay as they were.
  mine.delete(hex)
  mine.set('intruder', theirs.get(hex)!)
  expect([...theirs.keys()]).toEqual([hex])
  expect([...n.topics.keys()]).toEqual([hex])

  // The next emission is again one Map per subscriber, built from the networker's own state.
  await n.configure(randomTopic(), { announce: true, lookup: false })
  const [a, b] = [first.at(-1)!, second.at(-1)!]
  expect(a).not.toBe(b)
  expect(a.has(hex) && b.has(hex)).toBe(true)
  expect(a.has('intruder') || b.has('intruder')).toBe(false)
  expect(n.topics).not.toBe(n.topics)
  // The states themselves are frozen, shared by every copy.
  expect(Object.isFrozen(a.get(hex))).toBe(true)
  expect(a.get(hex)).toBe(b.get(hex))
})

it('topics$ hands two subscribers two Maps for the final (empty) value on close', async () => {
  const n = h.networker()
  const last: Array<ReadonlyMap<string, TopicState>> = []
  await n.configure(randomTopic(), { announce: true, lookup: false })
  n.topics$.subscribe({ complete: () => undefined, next: (m) => (last[0] = m) })
  n.topics$.subscribe({ complete: () => undefined, next: (m) => (last[1] = m) })
  await n.close()
  expect(last[0].size).toBe(0)
  expect(last[1].size).toBe(0)
  expect(last[0]).not.toBe(last[1])
})
