import {
  ConnClose,
  ConnOpen,
  ConnectionInput,
  DhtCounters,
  activityPerMinute,
  analyseConnections,
  checkPartialMesh,
  components,
  diameter,
  distancesFrom,
  meshProgress,
  meshTimeline,
  minPeersFor,
  mutualGraph,
  summarizeActivity
} from './soak-report'

/**
 * The hosts soak's bookkeeping (soak-report.ts) on made-up events: healthy drops, the graph of
 * connections of a partial mesh (connected, diameter, bounds), lookups and dials per minute. No
 * namespaces needed: it belongs to the host test bed (`npm run test:hosts`, as root) and runs
 * alone without root: `npx jest -c jest.hosts.config.ts test/hosts/soak-report.hosts.test.ts`.
 */

const open = (host: number, remote: number, id: string, at: number): ConnOpen => ({ host, remote, id, at })
const close = (host: number, remote: number, id: string, at: number, extra: Partial<ConnClose> = {}): ConnClose => ({
  host,
  remote,
  id,
  at,
  read: 100,
  written: 100,
  error: null,
  errorAt: null,
  role: 'current',
  lived: null,
  ...extra
})
const timedOut = (at: number): Partial<ConnClose> => ({ error: 'Stream timed out', errorAt: at })

function analyse(input: Partial<ConnectionInput>) {
  return analyseConnections({
    opens: [],
    closes: [],
    openAtEnd: [],
    disturbances: [],
    phases: [
      { name: 'mesh', from: 0 },
      { name: 'replicate', from: 1000 },
      { name: 'cut', from: 5000 }
    ],
    endAt: 100_000,
    silentAfter: 2000,
    ...input
  })
}

test('a connection timed out between two undisturbed hosts is one healthy drop, seen at both ends', () => {
  const result = analyse({
    opens: [open(1, 2, 'c1', 100), open(2, 1, 'c1', 101)],
    closes: [close(1, 2, 'c1', 2200, timedOut(2200)), close(2, 1, 'c1', 2210)]
  })
  expect(result.healthyDrops).toMatchObject({ connections: 1, pairs: 1, ends: 2, byPhase: { replicate: 1 }, byReason: { 'Stream timed out': 1 } })
  expect(result.healthyDrops.examples[0]).toMatchObject({ pair: [1, 2], closedBy: 1 })
})

test('closes by dedup are not drops: Hyperswarm\'s "Duplicate connection", or the networker replacing the connection', () => {
  const result = analyse({
    opens: [open(1, 2, 'a', 100), open(2, 1, 'a', 100), open(1, 3, 'b', 100), open(3, 1, 'b', 100)],
    closes: [
      close(1, 2, 'a', 150, { error: 'Duplicate connection', errorAt: 150 }),
      close(2, 1, 'a', 160),
      close(3, 1, 'b', 170, { role: 'replaced' }),
      close(1, 3, 'b', 180)
    ]
  })
  expect(result.duplicateCloses).toBe(2)
  expect(result.healthyDrops.connections).toBe(0)
})

test('the end that closed first decides: a time-out at one end before the other replaced the connection is a drop', () => {
  const result = analyse({
    opens: [open(1, 2, 'c', 100), open(2, 1, 'c', 100)],
    closes: [close(1, 2, 'c', 3000, timedOut(2900)), close(2, 1, 'c', 2950, { role: 'replaced' })]
  })
  expect(result.healthyDrops.connections).toBe(1)
  expect(result.healthyDrops.examples[0].closedBy).toBe(1)
})

test('a connection alive while either end was cut or killed is not a healthy drop; one opened after the restore is', () => {
  const result = analyse({
    opens: [open(1, 2, 'before', 100), open(3, 4, 'other', 100), open(1, 2, 'after', 12_000)],
    closes: [
      close(1, 2, 'before', 11_000, timedOut(11_000)), // host 2 cut 5000–10000
      close(4, 3, 'other', 7000, timedOut(7000)), // host 3 killed 6000–9000
      close(1, 2, 'after', 15_000, timedOut(15_000))
    ],
    disturbances: [
      { host: 2, from: 5000, to: 10_000 },
      { host: 3, from: 6000, to: 9000 }
    ]
  })
  expect(result.disturbedCloses).toBe(2)
  expect(result.healthyDrops).toMatchObject({ connections: 1, pairs: 1, ends: 1, byPhase: { cut: 1 } })
})

test('drops are counted per connection and per pair; closes after the end of the run are not counted', () => {
  const result = analyse({
    opens: [open(1, 2, 'x', 100), open(1, 2, 'y', 3000), open(1, 3, 'z', 100)],
    closes: [close(1, 2, 'x', 2200, timedOut(2200)), close(2, 1, 'y', 5200, timedOut(5200)), close(1, 3, 'z', 100_500, timedOut(100_500))]
  })
  expect(result.healthyDrops).toMatchObject({ connections: 2, pairs: 1, ends: 2 })
  expect(result.closed).toBe(2)
})

test('connections that never carried data: closed or still open (old enough) with nothing received at either end', () => {
  const result = analyse({
    opens: [open(1, 2, 'mute', 100), open(1, 3, 'open-mute', 100), open(1, 4, 'young', 99_000), open(1, 5, 'fine', 100)],
    closes: [close(1, 2, 'mute', 2200, { ...timedOut(2200), read: 0 }), close(2, 1, 'mute', 2300, { read: 0 })],
    openAtEnd: [
      { host: 1, remote: 3, id: 'open-mute', age: 90_000, read: 0, current: true },
      { host: 3, remote: 1, id: 'open-mute', age: 90_000, read: 0, current: false },
      { host: 1, remote: 4, id: 'young', age: 1000, read: 0, current: true },
      { host: 1, remote: 5, id: 'fine', age: 90_000, read: 10, current: true },
      { host: 5, remote: 1, id: 'fine', age: 90_000, read: 0, current: true }
    ]
  })
  expect(result.neverCarriedData).toEqual({ connections: 2, openAsPeers: 1 })
  expect(result.healthyDrops.connections).toBe(0)
  expect(result.connections).toBe(4)
})

test('a connection over which nothing crossed is never a healthy drop: the handshake budget dropping it is the rule', () => {
  const result = analyse({
    opens: [open(1, 2, 'mute', 100), open(2, 1, 'mute', 100), open(1, 3, 'one-way', 100), open(3, 1, 'one-way', 100)],
    closes: [
      // Nothing received at either end, closed after the handshake budget (2 × timeout).
      close(1, 2, 'mute', 4200, { ...timedOut(4200), read: 0 }),
      close(2, 1, 'mute', 4210, { read: 0 }),
      // One end received data: the connection carried some, so its drop counts.
      close(1, 3, 'one-way', 4200, { ...timedOut(4200), read: 0 }),
      close(3, 1, 'one-way', 4210, { read: 40 })
    ]
  })
  expect(result.neverCarriedData.connections).toBe(1)
  expect(result.healthyDrops).toMatchObject({ connections: 1, pairs: 1 })
  expect(result.healthyDrops.examples[0].pair).toEqual([1, 3])
})

test('a reset is the remote closing: the remote\'s own close decides, even when the reset was logged first', () => {
  const result = analyse({
    opens: [open(1, 2, 'dup', 100), open(2, 1, 'dup', 100), open(1, 3, 'gone', 100), open(3, 1, 'gone', 100)],
    closes: [
      // Host 2's Hyperswarm resolved a duplicate; host 1 saw the reset 20 ms "earlier" on its clock.
      close(1, 2, 'dup', 200, { error: 'connection reset by peer', errorAt: 200 }),
      close(2, 1, 'dup', 220, { error: 'Duplicate connection', errorAt: 220 }),
      // A reset with no report from the other end: the reset is all there is, and it counts.
      close(1, 3, 'gone', 3000, { error: 'connection reset by peer', errorAt: 3000 })
    ]
  })
  expect(result.duplicateCloses).toBe(1)
  expect(result.healthyDrops).toMatchObject({ connections: 1, byReason: { 'connection reset by peer': 1 } })
  expect(result.healthyDrops.examples[0].pair).toEqual([1, 3])
})

test('a full host refusing a newcomer, or closing a peer to make room, is counted apart, not as a healthy drop', () => {
  const result = analyse({
    maxPeers: 4,
    opens: [open(1, 2, 'refused', 100), open(2, 1, 'refused', 100), open(1, 3, 'evicted', 100), open(1, 4, 'room', 100), open(1, 5, 'dropped', 100)],
    closes: [
      // Host 1 holds 4 slots and refuses host 2 as it opens: never a peer there.
      close(1, 2, 'refused', 105, { role: 'unadmitted', held: 4, wasPeer: false, lived: 5 }),
      close(2, 1, 'refused', 110, { error: 'connection reset by peer', errorAt: 110, role: 'current' }),
      // Host 1 closes its peer 3 to make room (its peer until then, removed before the close).
      close(1, 3, 'evicted', 3000, { role: 'unadmitted', held: 4, wasPeer: true }),
      // Not full: a refusal-like close while holding 3 slots is still a healthy drop.
      close(1, 4, 'room', 3100, { role: 'unadmitted', held: 3, wasPeer: true }),
      // Full, but closed with an error (timed out): a healthy drop.
      close(1, 5, 'dropped', 3200, { ...timedOut(3200), role: 'unadmitted', held: 4, wasPeer: true })
    ]
  })
  expect(result.atMaxPeers).toEqual({ refused: 1, evicted: 1 })
  expect(result.healthyDrops.connections).toBe(2)
  expect(result.healthyDrops.examples.map((d) => d.pair)).toEqual([[1, 4], [1, 5]])
})

test('without maxPeers (a full mesh) nothing is counted as refused or evicted', () => {
  const result = analyse({ opens: [open(1, 2, 'x', 100)], closes: [close(1, 2, 'x', 105, { role: 'unadmitted', held: 64, wasPeer: false })] })
  expect(result.atMaxPeers).toEqual({ refused: 0, evicted: 0 })
  expect(result.healthyDrops.connections).toBe(1)
})

describe('meshProgress', () => {
  const ev = (at: number, count: number) => ({ at, count })

  it('times each share of all host pairs from the phase start', () => {
    // 3 hosts: 6 peer entries make the full mesh.
    const peers = [[ev(100, 0), ev(1100, 1), ev(2100, 2)], [ev(100, 0), ev(1200, 2)], [ev(100, 0), ev(3100, 2)]]
    expect(meshProgress(peers, 6, 100)).toEqual({ '50%': 1100, '90%': 3000, '99%': 3000 })
  })

  it('follows peer counts down as well as up, and says null for a share never reached', () => {
    const peers = [[ev(0, 3), ev(500, 1), ev(900, 3)], [ev(200, 2)]]
    // 10 entries needed: 3, 5 (the second host), 3 (the first lost two), 5 again; never 9.
    expect(meshProgress(peers, 10, 0)).toEqual({ '50%': 200, '90%': null, '99%': null })
  })

  it('counts events before the start as the starting state, and their times as the start', () => {
    expect(meshProgress([[ev(0, 2)], [ev(50, 2)]], 4, 100)).toEqual({ '50%': 0, '90%': 0, '99%': 0 })
  })
})

describe('minPeersFor: the fewest peers a host of a partial mesh must keep', () => {
  it('is min(K, max(2, ceil(K / 3))): 2 up to K = 6, a third of K above, never above K', () => {
    expect([1, 2, 3, 4, 6, 7, 8, 12, 64].map(minPeersFor)).toEqual([1, 2, 2, 2, 2, 3, 3, 4, 22])
  })

  it('refuses what is not a positive whole number', () => {
    expect(() => minPeersFor(0)).toThrow(RangeError)
    expect(() => minPeersFor(2.5)).toThrow(RangeError)
  })
})

describe('the graph of connections', () => {
  const keys = ['a', 'b', 'c', 'd', 'e']

  it('has an edge only where both ends list each other; one-sided entries and unknown keys are counted apart', () => {
    const g = mutualGraph(keys, [['b', 'c', 'zz'], ['a'], ['d'], ['c'], []])
    expect(g.adjacency).toEqual([[1], [0], [3], [2], []])
    expect(g.oneSided).toBe(1) // a lists c, c does not list a
    expect(g.unknown).toBe(1)
  })

  it('components: every host in one, largest first; an isolated host is its own', () => {
    expect(components([[1], [0], [3], [2], []])).toEqual([[0, 1], [2, 3], [4]])
    expect(components([[1, 2], [0], [0, 3], [2]])).toEqual([[0, 1, 2, 3]])
    expect(components([])).toEqual([])
  })

  it('diameter: the longest shortest path; null when the graph is split', () => {
    // a path 0-1-2-3-4
    expect(diameter([[1], [0, 2], [1, 3], [2, 4], [3]])).toBe(4)
    // a ring of 6
    expect(diameter([[1, 5], [0, 2], [1, 3], [2, 4], [3, 5], [4, 0]])).toBe(3)
    expect(diameter([[1], [0], []])).toBeNull()
    expect(diameter([[]])).toBe(0)
    expect(diameter([])).toBeNull()
  })

  it('distancesFrom: hops from one host to each other (null: out of reach)', () => {
    expect(distancesFrom([[1], [0, 2], [1], []], 0)).toEqual([0, 1, 2, null])
  })
})

describe('checkPartialMesh: every host between the minimum and K peers, and the graph connected', () => {
  const keys = ['a', 'b', 'c', 'd', 'e', 'f']
  // A ring of six: two peers each, diameter 3.
  const ring = [['b', 'f'], ['a', 'c'], ['b', 'd'], ['c', 'e'], ['d', 'f'], ['e', 'a']]

  it('passes a connected graph within the bounds and reports its diameter and degrees', () => {
    expect(checkPartialMesh(keys, ring, { min: 2, max: 4 })).toEqual({
      ok: true,
      connected: true,
      components: [6],
      diameter: 3,
      degrees: { min: 2, median: 2, max: 2 },
      belowMin: [],
      aboveMax: [],
      oneSided: 0
    })
  })

  it('fails a disconnected graph even when every host is within the bounds', () => {
    // Two triangles: two peers each, no path between them.
    const split = [['b', 'c'], ['a', 'c'], ['a', 'b'], ['e', 'f'], ['d', 'f'], ['d', 'e']]
    const result = checkPartialMesh(keys, split, { min: 2, max: 4 })
    expect(result).toMatchObject({ ok: false, connected: false, components: [3, 3], diameter: null, belowMin: [], aboveMax: [] })
  })

  it('fails a connected graph with a host below the minimum or above K (counted on edges both ends list)', () => {
    // A path: the ends have one peer each.
    const path = [['b'], ['a', 'c'], ['b', 'd'], ['c', 'e'], ['d', 'f'], ['e']]
    expect(checkPartialMesh(keys, path, { min: 2, max: 4 })).toMatchObject({ ok: false, connected: true, diameter: 5, belowMin: [0, 5] })
    // A star around a: five peers at a.
    const star = [['b', 'c', 'd', 'e', 'f'], ['a'], ['a'], ['a'], ['a'], ['a']]
    expect(checkPartialMesh(keys, star, { min: 1, max: 4 })).toMatchObject({ ok: false, connected: true, aboveMax: [0] })
  })

  it('a host listing more than K peers is above K even if some are one-sided', () => {
    const over = ring.map((p, i) => (i === 0 ? ['b', 'c', 'd', 'e', 'f'] : p))
    expect(checkPartialMesh(keys, over, { min: 2, max: 4 })).toMatchObject({ ok: false, aboveMax: [0], oneSided: 3 })
  })
})

describe('meshTimeline: when the graph was first connected and every host first within the bounds', () => {
  const keys = ['a', 'b', 'c']
  const ev = (at: number, ...peers: string[]) => ({ at, keys: peers })

  it('replays every host\'s peers events in time order from the start', () => {
    const events = [
      [ev(100, 'b'), ev(300, 'b', 'c')],
      [ev(110, 'a'), ev(250, 'a', 'c')],
      [ev(200, 'a'), ev(260, 'a', 'b')]
    ]
    // 110: a–b. 200, 250: c and b list each other one way only, so c is out. 260: c lists b
    // too: a–b–c connected (a still has one peer). 300: a lists c: two peers each.
    expect(meshTimeline(keys, events, 50, { min: 2, max: 2 })).toEqual({ connectedMs: 210, boundsMs: 250, bothMs: 250 })
  })

  it('says null for what never held, and counts events before the start as the starting state', () => {
    const events = [[ev(0, 'b')], [ev(0, 'a')], [ev(0)]]
    expect(meshTimeline(keys, events, 100, { min: 1, max: 2 })).toEqual({ connectedMs: null, boundsMs: null, bothMs: null })
    const whole = [[ev(0, 'b', 'c')], [ev(0, 'a')], [ev(0, 'a')]]
    expect(meshTimeline(keys, whole, 100, { min: 1, max: 2 })).toEqual({ connectedMs: 0, boundsMs: 0, bothMs: 0 })
  })
})

describe('lookups and dials per host per minute', () => {
  const counters = (at: number, pid: number, n: number): DhtCounters => ({
    at,
    pid,
    lookups: 4 * n,
    announces: 2 * n,
    findPeers: n,
    dials: 3 * n,
    dialsFailed: n,
    queries: 10 * n
  })

  it('activityPerMinute: the difference of two readings of the same process, scaled to a minute', () => {
    expect(activityPerMinute(counters(0, 7, 1), counters(30_000, 7, 3))).toEqual({
      lookups: 16,
      announces: 8,
      findPeers: 4,
      dials: 12,
      dialsFailed: 4,
      queries: 40
    })
  })

  it('is null across a restart (another process) or over no time', () => {
    expect(activityPerMinute(counters(0, 7, 1), counters(30_000, 8, 3))).toBeNull()
    expect(activityPerMinute(counters(0, 7, 1), counters(0, 7, 1))).toBeNull()
  })

  it('summarizeActivity: median and most of each figure over the hosts, and the busiest host', () => {
    const a = { lookups: 1, announces: 1, findPeers: 0, dials: 2, dialsFailed: 0, queries: 5 }
    const b = { lookups: 9, announces: 3, findPeers: 1, dials: 0, dialsFailed: 0, queries: 20 }
    const c = { lookups: 4, announces: 2, findPeers: 2, dials: 5, dialsFailed: 1, queries: 9 }
    const summary = summarizeActivity({ a, b, c })
    expect(summary.hosts).toBe(3)
    expect(summary.median).toMatchObject({ lookups: 4, dials: 2 })
    expect(summary.max).toMatchObject({ lookups: 9, dials: 5, queries: 20 })
    expect(summary.busiest).toEqual({ lookups: 'b', dials: 'c' })
    expect(summarizeActivity({}).hosts).toBe(0)
  })
})
