/**
 * Topics on a virtual clock: relookups of every topic share one scheduler action, honour
 * `opts.scheduler`, `relookupBackoff`, the 50 ms look-again after an announcing join that found
 * nobody, and the eager relookups; flushes are detected once for all waiting topics on the shared
 * progress. The swarm is a fake port (no network): its sessions record when they were refreshed.
 */
import { BehaviorSubject, VirtualTimeScheduler } from 'rxjs'
import type { SwarmProgress, TopicState } from '../operators/types'
import { toTopicKey } from '../lib/keys'
import { Topics, TopicsPort } from '../lib/topics'

interface FakeSwarm {
  readonly port: TopicsPort
  readonly progress: BehaviorSubject<SwarmProgress>
  /** Virtual times of every refresh, per hex key. */
  readonly refreshes: Map<string, number[]>
  /** The options of every refresh, in order (all keys). */
  readonly options: Array<{ server: boolean; client: boolean } | undefined>
  /** Pending refreshes (when `holdRefreshes`): resolve them to finish the lookups. */
  readonly held: Array<() => void>
  peers: boolean
  /** Peers the lookups found (`foundFor`); connected ones count 1 while `peers`. */
  found: number
  /** When set, how many are connected (`connectedFor`), whatever `peers` says. */
  connected: number | null
  /** Called on every refresh, before it resolves. */
  onrefresh: () => void
  holdRefreshes: boolean
}

function fakeSwarm(scheduler: VirtualTimeScheduler): FakeSwarm {
  const progress = new BehaviorSubject<SwarmProgress>({ connecting: 0, queued: 0, saturated: false })
  const fake: FakeSwarm = {
    progress,
    refreshes: new Map(),
    options: [],
    held: [],
    peers: false,
    found: 0,
    connected: null,
    onrefresh: () => {},
    holdRefreshes: false,
    port: {
      progress$: progress.asObservable(),
      join: (topic) => ({
        flushed: () => Promise.resolve(),
        refresh: (options?: { server: boolean; client: boolean }) => {
          fake.options.push(options)
          const hex = topic.toString('hex')
          fake.refreshes.set(hex, [...(fake.refreshes.get(hex) ?? []), scheduler.now()])
          fake.onrefresh()
          return fake.holdRefreshes ? new Promise<void>((resolve) => fake.held.push(resolve)) : Promise.resolve()
        }
      }),
      leave: () => Promise.resolve(),
      update: () => {},
      connectedFor: () => fake.connected ?? (fake.peers ? 1 : 0),
      foundFor: () => fake.found
    }
  }
  return fake
}

/** Lets promise callbacks run (the fake swarm answers at once). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

/** Advances virtual time to `frame`, running the promise work each timer starts. */
async function advanceTo(scheduler: VirtualTimeScheduler, frame: number): Promise<void> {
  for (;;) {
    await settle()
    const next = scheduler.actions[0]
    if (next === undefined || next.delay > frame) break
    scheduler.maxFrames = next.delay
    scheduler.flush()
  }
  scheduler.frame = frame
  await settle()
}

function setup(backoff: readonly number[] = [100, 200]): { scheduler: VirtualTimeScheduler; swarm: FakeSwarm; topics: Topics } {
  const scheduler = new VirtualTimeScheduler()
  const swarm = fakeSwarm(scheduler)
  const topics = new Topics({ source: () => Promise.resolve(swarm.port), onerror: () => {}, relookupBackoff: backoff, scheduler })
  return { scheduler, swarm, topics }
}

const key = (n: number): ReturnType<typeof toTopicKey> => toTopicKey(Buffer.alloc(32, n))

describe('Topics on a virtual clock', () => {
  it('an announcing join that found nobody looks again after 50 ms, then on the backoff (eager twice, then while it has no peer)', async () => {
    const { scheduler, swarm, topics } = setup()
    await topics.configure(key(1), { announce: true, lookup: true, flush: false })
    await advanceTo(scheduler, 700)
    expect(swarm.refreshes.get(key(1).hex)).toEqual([50, 250, 450, 650])
    topics.close()
  })

  it('a lookup-only join starts on the backoff itself; the last value repeats', async () => {
    const { scheduler, swarm, topics } = setup()
    await topics.configure(key(2), { announce: false, lookup: true, flush: false })
    await advanceTo(scheduler, 600)
    expect(swarm.refreshes.get(key(2).hex)).toEqual([100, 300, 500])
    topics.close()
  })

  it('with peers, the eager relookups still run, then it only watches (no lookup) at the first backoff', async () => {
    const { scheduler, swarm, topics } = setup()
    swarm.peers = true
    await topics.configure(key(3), { announce: false, lookup: true, flush: false })
    await advanceTo(scheduler, 1000)
    expect(swarm.refreshes.get(key(3).hex)).toEqual([100, 300])
    swarm.peers = false
    await advanceTo(scheduler, 1200)
    // Watches at 400, 500, …, 1000 saw peers; the one at 1100 finds the topic empty and looks.
    expect(swarm.refreshes.get(key(3).hex)).toEqual([100, 300, 1100])
    topics.close()
  })

  it('repair: while fewer peers are connected than the lookups found, it looks again on a jittered backoff capped at 4 s; once all are connected it only watches', async () => {
    const { scheduler, swarm, topics } = setup([1000, 8000, 60000])
    swarm.peers = true
    swarm.found = 3
    await topics.configure(key(8), { announce: false, lookup: true, flush: false })
    await advanceTo(scheduler, 40_000)
    const times = swarm.refreshes.get(key(8).hex) ?? []
    // The two eager relookups (1 s, then 8 s later), then repairs 3-5 s apart (4 s ± 25 %).
    expect(times.slice(0, 2)).toEqual([1000, 9000])
    const gaps = times.slice(2).map((t, i) => t - times[i + 1])
    expect(gaps.length).toBeGreaterThanOrEqual(6)
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(3000)
      expect(gap).toBeLessThanOrEqual(5000)
    }
    // Every found peer connected again: only the watch at the first backoff, no more lookups.
    swarm.found = 1
    const before = times.length
    await advanceTo(scheduler, 60_000)
    expect((swarm.refreshes.get(key(8).hex) ?? []).length).toBeLessThanOrEqual(before + 1)
    topics.close()
  })

  it('a swarm of 20 or more found is a sample (a DHT node answers with 20 at most): it looks again until 5 lookups in a row found nobody new', async () => {
    const small = setup()
    small.swarm.found = 19
    small.swarm.connected = 19
    await small.topics.configure(key(9), { announce: false, lookup: true, flush: false })
    await advanceTo(small.scheduler, 3000)
    // Under 20: everyone was in the answer; the two eager lookups, then only watching.
    expect(small.swarm.refreshes.get(key(9).hex)).toEqual([100, 300])
    small.topics.close()

    const { scheduler, swarm, topics } = setup()
    swarm.found = 25
    swarm.connected = 25
    await topics.configure(key(10), { announce: false, lookup: true, flush: false })
    await advanceTo(scheduler, 3000)
    // The join found nobody new after itself; four more lookups make five quiet ones in a row.
    expect(swarm.refreshes.get(key(10).hex)).toEqual([100, 300, 500, 700])
    topics.close()

    const growing = setup()
    growing.swarm.found = 25
    growing.swarm.connected = 25
    let n = 0
    growing.swarm.onrefresh = () => {
      // The second and third lookups each find someone new: the count of quiet ones starts over.
      if (++n === 2 || n === 3) growing.swarm.found = growing.swarm.connected = growing.swarm.found + 1
    }
    await growing.topics.configure(key(11), { announce: false, lookup: true, flush: false })
    await advanceTo(growing.scheduler, 5000)
    expect(growing.swarm.refreshes.get(key(11).hex)).toEqual([100, 300, 500, 700, 900, 1100, 1300, 1500])
    growing.topics.close()
  })

  it('relookups run while a configure still waits for its flush (a busy swarm does not hold them back)', async () => {
    const { scheduler, swarm, topics } = setup()
    swarm.progress.next({ connecting: 3, queued: 10, saturated: false })
    let resolved = false
    const configuring = topics.configure(key(12), { announce: true, lookup: true, flush: true }).then((state) => {
      resolved = true
      return state
    })
    await advanceTo(scheduler, 700)
    expect(resolved).toBe(false)
    expect(swarm.refreshes.get(key(12).hex)).toEqual([50, 250, 450, 650])
    swarm.progress.next({ connecting: 0, queued: 0, saturated: false })
    expect((await configuring).flushed).toBe(true)
    topics.close()
  })

  it('a configure cancels a relookup under way: it schedules nothing more, and the swarm keeps the options given last', async () => {
    const { scheduler, swarm, topics } = setup()
    await topics.configure(key(13), { announce: true, lookup: true, flush: false })
    swarm.holdRefreshes = true
    await advanceTo(scheduler, 60)
    // The 50 ms look-again is under way (held) when the key is configured again, lookup only.
    expect(swarm.held.length).toBe(1)
    await topics.configure(key(13), { announce: false, lookup: true, flush: false })
    swarm.holdRefreshes = false
    swarm.held.splice(0).forEach((resolve) => resolve())
    await advanceTo(scheduler, 700)
    const after = swarm.options.slice(swarm.options.findIndex((o) => o?.server === false))
    expect(after.length).toBeGreaterThan(1)
    // Every refresh from the reconfiguration on is a lookup only, on its own backoff (100, 200).
    expect(after.every((o) => o?.server === false && o.client === true)).toBe(true)
    expect(swarm.refreshes.get(key(13).hex)).toEqual([50, 60, 160, 360, 560])
    topics.close()
  })

  it('a leave stops the key’s relookups; close() stops them all', async () => {
    const { scheduler, swarm, topics } = setup()
    await topics.configure(key(4), { announce: false, lookup: true, flush: false })
    await topics.configure(key(5), { announce: false, lookup: true, flush: false })
    await advanceTo(scheduler, 150)
    await topics.configure(key(4), { announce: false, lookup: false, flush: false })
    await advanceTo(scheduler, 400)
    topics.close()
    await advanceTo(scheduler, 2000)
    expect(swarm.refreshes.get(key(4).hex)).toEqual([100])
    expect(swarm.refreshes.get(key(5).hex)).toEqual([100, 300])
    expect(scheduler.actions.length).toBe(0)
  })

  it('1,000 topics share one scheduler action, and at most 16 relookups run at once', async () => {
    const { scheduler, swarm, topics } = setup()
    const keys = Array.from({ length: 1000 }, (_, i) => toTopicKey(Buffer.from(i.toString(16).padStart(64, '0'), 'hex')))
    await Promise.all(keys.map((k) => topics.configure(k, { announce: true, lookup: true, flush: false })))
    expect(scheduler.actions.length).toBe(1)
    swarm.holdRefreshes = true
    await advanceTo(scheduler, 60)
    expect(swarm.held.length).toBe(16)
    swarm.held.splice(0, 4).forEach((resolve) => resolve())
    await settle()
    expect(swarm.held.length).toBe(16)
    expect([...swarm.refreshes.values()].flat().length).toBe(20)
    topics.close()
  })

  it('flushes every waiting topic on the one progress snapshot that shows the swarm idle', async () => {
    const { swarm, topics } = setup([])
    swarm.progress.next({ connecting: 2, queued: 1, saturated: false })
    const states: TopicState[] = []
    topics.topic$(key(7)).subscribe((s) => states.push(s))
    const flushed = [7, 8, 9].map((n) => topics.configure(key(n), { announce: true, lookup: true, flush: true }))
    await settle()
    expect([7, 8, 9].map((n) => topics.state(key(n)).flushed)).toEqual([false, false, false])
    swarm.progress.next({ connecting: 0, queued: 0, saturated: false })
    expect((await Promise.all(flushed)).map((s) => s.flushed)).toEqual([true, true, true])
    expect(states.map((s) => `${s.joined}/${s.flushed}`)).toEqual(['false/false', 'true/false', 'true/true'])
    topics.close()
    expect(states.at(-1)).toMatchObject({ joined: false, flushed: false })
  })
})
