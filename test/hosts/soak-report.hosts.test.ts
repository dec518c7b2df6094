import { ConnClose, ConnOpen, ConnectionInput, analyseConnections, meshProgress } from './soak-report'

/**
 * The hosts soak's definition of a healthy drop (soak-report.ts), on made-up connection events:
 * no namespaces needed, but it belongs to the host test bed (`npm run test:hosts`).
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
