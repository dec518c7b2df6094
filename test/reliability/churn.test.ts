import b4a from 'b4a'
import { Subscription } from 'rxjs'
import type { NetworkerPeerEvent, ReactiveNetworker } from '../../lib/reactive-networker'
import { collectGarbage, createHarness, Harness, randomTopic, sleep, until, Fixture, spawnFixture } from '../kit'
import { checkHistory, joinOrClosed } from '../fixtures/churn-shared'

/**
 * Churn: networkers join and leave (start and close) a topic at random; after things settle every
 * peer set equals the ground truth, the event history of every networker is consistent, the
 * process is back to its baseline of handles, timers and listeners, and every closed networker is
 * garbage-collected (heap and RSS are reported, not asserted: freed memory stays with the
 * allocator).
 *
 * 20 networkers for 20 s here, 12 in this process and 4 in each of two child processes;
 * `npm run soak` runs it for 10 minutes (SOAK_MS).
 */
const POOL = 12
const CHILDREN = 2
const PER_CHILD = 4
const CHURN_MS = Number(process.env.SOAK_MS ?? 20_000)

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(async () => {
  await h.cleanup()
})

interface Member {
  networker: ReactiveNetworker
  key: string
  events: NetworkerPeerEvent[]
  subscription: Subscription
}

function startChild(topicHex: string, ms: number, dirs: string[]): Fixture {
  return spawnFixture(h, 'churn-child.ts', [JSON.stringify(h.net.bootstrap), topicHex, String(ms), ...dirs])
}

/** The last value of `field` a child printed. */
const last = (child: Fixture, field: string): unknown => [...child.lines].reverse().find((l) => field in l)?.[field]

/** Every listener on an emitter, over all its events. */
function listenersOf(emitter: NodeJS.EventEmitter): number {
  return emitter.eventNames().reduce((n, name) => n + emitter.listenerCount(name), 0)
}

/**
 * What a leak would leave behind: Node's active handles and timers, and the listeners on the
 * process and on every store the networkers used (sessions and replication streams register
 * there).
 */
function resources(emitters: readonly NodeJS.EventEmitter[]): { handles: number; timers: number; listeners: number } {
  const info = process.getActiveResourcesInfo()
  return {
    handles: info.filter((r) => r !== 'Timeout' && r !== 'Immediate').length,
    timers: info.filter((r) => r === 'Timeout').length,
    listeners: listenersOf(process) + emitters.reduce((n, e) => n + listenersOf(e), 0)
  }
}

/**
 * Subscriptions a closed networker still holds, and observers still on its subjects (read through
 * private fields: this is a leak audit). A function of its own, so that no variable of the test
 * keeps the last networker on the stack.
 */
function subscriptionsLeft(networker: ReactiveNetworker): number {
  type Inner = Record<string, { observed?: boolean; closed?: boolean }>
  const inner = networker as unknown as Inner & { connections: Inner }
  let left = inner.finding.closed === true ? 0 : 1
  if (inner.connections.subscriptions.closed !== true) left++
  const topics = inner.topicRegistry as unknown as Inner
  if (topics.subscription.closed !== true) left++
  const subjects = [
    inner.errorsSubject,
    topics.changes,
    inner.stateSubject,
    inner.connections.peerEventsSubject,
    inner.connections.peersSubject,
    inner.connections.rawSubject
  ]
  for (const subject of subjects) {
    if (subject.observed === true) left++
  }
  return left
}

test(`churn: ${POOL + CHILDREN * PER_CHILD} networkers in ${CHILDREN + 1} processes start and close at random for ${CHURN_MS / 1000} s; afterwards peers$ equals the ground truth, add/remove histories are consistent, nothing leaks`, async () => {
  const topic = randomTopic()
  const stores = Array.from({ length: POOL }, () => h.store())
  await Promise.all(stores.map((s) => s.ready()))
  await sleep(200)
  const baseline = resources(stores)
  collectGarbage()
  const before = process.memoryUsage()

  const alive = new Map<number, Member>()
  const histories: Member[] = []
  let joins = 0
  let leaves = 0

  const start = async (slot: number): Promise<void> => {
    const networker = h.networker(stores[slot], { relookupBackoff: [250, 500, 1000, 2000] })
    const member: Member = { networker, key: '', events: [], subscription: new Subscription() }
    member.subscription.add(networker.peerEvents$.subscribe((e) => member.events.push(e)))
    alive.set(slot, member)
    histories.push(member)
    joins++
    const joined = await joinOrClosed(networker, topic)
    if (joined) member.key = (networker.publicKey as Buffer).toString('hex')
  }
  const stop = async (slot: number): Promise<void> => {
    const member = alive.get(slot)
    if (member === undefined) return
    alive.delete(slot)
    leaves++
    await member.networker.close()
    member.subscription.unsubscribe()
  }

  const children = Array.from({ length: CHILDREN }, () =>
    startChild(topic.toString('hex'), CHURN_MS, Array.from({ length: PER_CHILD }, () => h.tmpdir()))
  )
  for (let slot = 0; slot < POOL; slot++) await start(slot)
  const deadline = Date.now() + CHURN_MS
  const pending: Array<Promise<void>> = []
  while (Date.now() < deadline) {
    const slot = Math.floor(Math.random() * POOL)
    // Keep a few always alive so there is a swarm to come back to.
    pending.push(alive.has(slot) ? (alive.size > 4 ? stop(slot) : Promise.resolve()) : start(slot))
    await sleep(50 + Math.random() * 250)
  }
  await Promise.all(pending)

  // Settle: the alive ones, in every process, form a full mesh and each lists exactly the others.
  await until(() => children.every((c) => Array.isArray(last(c, 'alive'))), 60_000, 'the children to finish churning')
  const members = [...alive.values()]
  const everyone = [...members.map((m) => m.key), ...children.flatMap((c) => last(c, 'alive') as string[])]
  const others = (key: string): string[] => everyone.filter((k) => k !== key).sort()
  const truth = (m: Member): string[] => others(m.key)
  const childrenSettled = (): boolean =>
    children.every((c) => {
      const peers = (last(c, 'peers') ?? {}) as Record<string, string[]>
      return (last(c, 'alive') as string[]).every((key) => JSON.stringify(peers[key]) === JSON.stringify(others(key)))
    })
  const settleStart = Date.now()
  const current = new Map<Member, string[]>()
  // Callbacks rather than for-of loops over members, here and below: a loop variable of this
  // async function can outlive the loop in its saved frame and keep the last member alive, which
  // the leak audit at the end would count.
  members.forEach((m) => {
    m.subscription.add(m.networker.peers$.subscribe((peers) => current.set(m, peers.map((p) => b4a.toString(p.remotePublicKey, 'hex')).sort())))
  })
  await until(
    () => members.every((m) => JSON.stringify(current.get(m)) === JSON.stringify(truth(m))) && childrenSettled(),
    60_000,
    'peers$ in every process to equal the ground truth'
  )
  const settleMs = Date.now() - settleStart
  members.forEach((m) => {
    const keys = current.get(m) ?? []
    expect(new Set(keys).size).toBe(keys.length) // no peer listed twice
  })

  // Close everything, then check every history: per remote key, add and remove alternate,
  // starting with add, and every add has its remove (close completes peers$ empty).
  await Promise.all(members.map((m) => m.networker.close()))
  members.forEach((m) => m.subscription.unsubscribe())
  const checked = histories.map((member) => checkHistory(member.events))
  expect(checked.every((r) => r.ok)).toBe(true)
  const adds = checked.reduce((n, r) => n + r.adds, 0)
  // Subscriptions: every subscription a closed networker held is released and none of its
  // subjects has an observer left.
  const openSubscriptions = histories.reduce((n, member) => n + subscriptionsLeft(member.networker), 0)
  expect(openSubscriptions).toBe(0)
  // Objects: once nothing here holds them, every closed networker (with its swarm, muxers,
  // subjects and peers) must be collectable. Anything that still reaches one is a leak.
  const closed = histories.splice(0).map((member) => new WeakRef(member.networker))
  alive.clear()
  members.splice(0)
  current.clear()
  // The children check their own histories the same way when told to stop.
  for (const child of children) child.child.stdin.end()
  await until(() => children.every((c) => last(c, 'historiesOk') !== undefined), 30_000, 'the children to close')
  for (const child of children) expect(last(child, 'historiesOk')).toBe(true)
  const childAdds = children.reduce((n, c) => n + Number(last(c, 'adds')), 0)
  await Promise.all(
    children.map((c) => new Promise<void>((resolve) => (c.child.exitCode !== null ? resolve() : c.child.once('exit', () => resolve()))))
  )

  // Back to the baseline: every handle and timer the networkers made is gone.
  await until(() => {
    const now = resources(stores)
    return now.handles <= baseline.handles && now.timers <= baseline.timers && now.listeners <= baseline.listeners
  }, 10_000, 'handles and timers back to baseline')
  const after = resources(stores)
  collectGarbage()
  const retained = closed.filter((ref) => ref.deref() !== undefined).length
  const now = process.memoryUsage()
  const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10
  const memory = {
    heapBeforeMiB: mib(before.heapUsed),
    heapAfterMiB: mib(now.heapUsed),
    externalGrowthMiB: mib(now.external - before.external),
    rssGrowthMiB: mib(now.rss - before.rss)
  }
  console.log(JSON.stringify({ scenario: 'churn', ms: CHURN_MS, joins, leaves, adds, childAdds, finalMembers: everyone.length, settleMs, closedNetworkers: closed.length, retained, openSubscriptions, baseline, after, memory }))
  expect(after.handles).toBeLessThanOrEqual(baseline.handles)
  expect(after.timers).toBeLessThanOrEqual(baseline.timers)
  expect(after.listeners).toBeLessThanOrEqual(baseline.listeners)
  expect(retained).toBe(0)
}, CHURN_MS + 120_000)
