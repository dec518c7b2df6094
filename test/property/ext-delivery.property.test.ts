import fc from 'fast-check'
import { DeliveryQueue } from '../../lib/extensions/delivery'

/**
 * The delivery queue is pure apart from `setImmediate`: these tests give it a fake clock that
 * only the consumer moves (each delivery "takes" its cost), so what a turn delivers and how often
 * the clock is read are exact, with no timing in the test.
 */

const BUDGET_MS = 4

interface Run {
  /** Deliveries per synchronous run: the arrival tick first, then each setImmediate turn. */
  runs: number[]
  delivered: number[]
  reads: number
}

/**
 * Messages `0..costs.length-1` arrive in ticks of `tick` messages (one synchronous run each,
 * ended with `endTurn()` as a connection's end of tick does); message i takes `costs[i]` ms.
 */
async function simulate(costs: readonly number[], tick: number): Promise<Run> {
  let now = 0
  let reads = 0
  const result: Run = { runs: [], delivered: [], reads: 0 }
  let current = 0
  const queue = new DeliveryQueue<number>(
    (i) => {
      current++
      result.delivered.push(i)
      now += costs[i]
    },
    BUDGET_MS,
    () => {
      reads++
      return now
    }
  )
  const endRun = (): void => {
    if (current > 0) result.runs.push(current)
    current = 0
  }
  for (let start = 0; start < costs.length; start += tick) {
    for (let i = start; i < Math.min(costs.length, start + tick); i++) {
      if (queue.canDeliverNow()) {
        current++
        result.delivered.push(i)
        now += costs[i]
      } else queue.push(i)
    }
    queue.endTurn()
    endRun()
    // The queue's own turns (setImmediate), each one synchronous run.
    for (let spins = 0; spins < 10_000 && result.delivered.length < Math.min(costs.length, start + tick); spins++) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      endRun()
    }
  }
  queue.close()
  result.reads = reads
  return result
}

test('a slow consumer (2 ms a message) gets at most three messages in its first turn and two in every later one, the clock read at each', async () => {
  const { runs, delivered, reads } = await simulate(new Array<number>(12).fill(2), 12)
  expect(delivered).toEqual([...Array(12).keys()])
  expect(runs).toEqual([3, 2, 2, 2, 2, 1])
  expect(reads).toBeGreaterThanOrEqual(12 - runs.length)
})

test('a fast consumer (10 µs a message) gets a whole budget per turn with the clock read about once in 32 messages', async () => {
  const { runs, delivered, reads } = await simulate(new Array<number>(2000).fill(0.01), 2000)
  expect(delivered).toEqual([...Array(2000).keys()])
  // 4 ms at 10 µs each: about 400 per turn, never more than the reads let slip past.
  for (const n of runs.slice(0, -1)) expect(n).toBeGreaterThanOrEqual(390)
  for (const n of runs) expect(n).toBeLessThanOrEqual(400 + 32)
  expect(reads).toBeLessThan(2000 / 32 + 10 * runs.length)
})

test('one message per tick never reads the clock', async () => {
  const { runs, reads } = await simulate(new Array<number>(50).fill(0.01), 1)
  expect(runs).toEqual(new Array<number>(50).fill(1))
  expect(reads).toBe(0)
})

test('property: whatever the consumer costs and arrival ticks, every message is delivered once, in order, and a turn overruns its budget by no more than the messages between two reads', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.constant(0.001), fc.double({ min: 0, max: 3, noNaN: true })), { minLength: 1, maxLength: 300 }),
      fc.integer({ min: 1, max: 300 }),
      async (costs, tick) => {
        const { delivered, runs } = await simulate(costs, tick)
        expect(delivered).toEqual([...Array(costs.length).keys()])
        // Every run's deliveries, at the costs they had: the budget is passed by at most 32
        // messages (the most between two reads) plus the first of the run.
        let at = 0
        const sorted = [...costs].sort((a, b) => b - a)
        const worst = sorted.slice(0, 33).reduce((sum, c) => sum + c, 0)
        for (const n of runs) {
          const spent = costs.slice(at, at + n).reduce((sum, c) => sum + c, 0)
          expect(spent).toBeLessThanOrEqual(BUDGET_MS + worst + 1e-9)
          at += n
        }
      }
    ),
    { numRuns: 200 }
  )
})
