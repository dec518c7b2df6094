import fs from 'fs'
import os from 'os'
import path from 'path'
import { Host, HostLauncher, until } from './host'
import { shortKey } from './keys'
import { createTopology, Topology } from './netns'

/**
 * Five networkers on five hosts (network namespaces with their own addresses, a bridge between
 * them) and a bootstrap node on a sixth. One host's link is cut and restored.
 */

let topology: Topology
let launcher: HostLauncher
const dirs: string[] = []

function tmpdir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-hosts-'))
  dirs.push(dir)
  return dir
}

function start(index: number, name: string, args: string[]): Host {
  return launcher.start(index, name, args)
}

beforeAll(() => {
  topology = createTopology(6)
  launcher = new HostLauncher(topology, tmpdir())
})

afterAll(async () => {
  await launcher?.stopAll()
  topology?.destroy()
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

test('five hosts replicate a core; a cut host is dropped within the timeout, then reconnects and catches up with no block lost or duplicated', async () => {
  const boot = start(0, 'bootstrap', ['bootstrap', topology.hosts[0].address])
  const b = await boot.next((e) => e.event === 'bootstrap')
  const bootstrap = `${String(b.host)}:${String(b.port)}`

  const writer = start(1, 'writer', ['writer', topology.hosts[1].address, bootstrap, tmpdir(), '--report-timeouts'])
  const ready = await writer.next((e) => e.event === 'ready')
  const coreKey = String(ready.key)
  writer.send({ cmd: 'append', from: 0, count: 100 })
  await writer.next((e) => e.event === 'appended' && e.length === 100)

  const readers = [2, 3, 4, 5].map((i) =>
    start(i, `reader${i - 1}`, ['reader', topology.hosts[i].address, bootstrap, tmpdir(), coreKey, '--report-timeouts'])
  )
  const nodes = [writer, ...readers]
  const keys = await Promise.all(nodes.map(async (n) => shortKey(String((await n.next((e) => e.event === 'ready')).publicKey))))
  const meshTime = await until(() => nodes.every((n) => n.peers.length === 4), 60_000, 'a full mesh of 5')

  for (const reader of readers) reader.send({ cmd: 'verify', count: 100 })
  for (const reader of readers) expect(await reader.next((e) => e.event === 'verified')).toMatchObject({ ok: 100 })

  // Every connection of the mesh answered the keep-alive channel: each remote asked for
  // keep-alives at timeout / 4 (from each host's next report), so each idle time-out is armed.
  const marks = nodes.map((n) => n.events.length)
  const reports = await Promise.all(nodes.map((n, i) => n.next((e) => e.event === 'timeouts', 5000, marks[i])))
  for (const report of reports) {
    expect(report.peers).toHaveLength(4)
    for (const [, , keepAlive] of report.peers as Array<[string, number, number]>) expect(keepAlive).toBe(500)
  }

  // Cut the last reader's link at the switch.
  const cut = readers[3]
  const cutKey = keys[4]
  const others = nodes.slice(0, 4)
  const cutAt = Date.now()
  topology.link(5, false)
  const dropTime = await until(() => others.every((n) => !n.peers.includes(cutKey)), 20_000, 'the cut host to be dropped')
  if (dropTime > 3500) {
    console.log('cut at', cutAt)
    for (const n of others) {
      const about = n.events.filter((e) => e.remote === cutKey || e.event === 'timeouts')
      console.log(n.name, JSON.stringify(about.slice(-16)))
    }
  }
  // Documented: the timeout (2000), the dedupe grace (500) and 1 s of slack.
  expect(dropTime).toBeLessThan(2000 + 500 + 1000)
  await until(() => cut.peers.length === 0, 20_000, 'the cut host to drop everyone')
  // The others stay connected to each other.
  expect(others.every((n) => n.peers.length === 3)).toBe(true)

  // Blocks written while it is away.
  writer.send({ cmd: 'append', from: 100, count: 100 })
  await writer.next((e) => e.event === 'appended' && e.length === 200)

  topology.link(5, true)
  const since = cut.events.length
  const rejoinTime = await until(() => cut.peers.includes(keys[0]), 60_000, 'the host to reconnect to the writer')
  cut.send({ cmd: 'verify', count: 200 })
  const verified = await cut.next((e) => e.event === 'verified', 60_000, since)
  expect(verified).toMatchObject({ ok: 200, count: 200, length: 200 })
  for (const reader of readers.slice(0, 3)) reader.send({ cmd: 'verify', count: 200 })
  for (const reader of readers.slice(0, 3)) {
    expect(await reader.next((e) => e.event === 'verified' && e.count === 200)).toMatchObject({ ok: 200, length: 200 })
  }

  // Figures for docs/RELIABILITY.md.
  const count = (type: string): number => nodes.reduce((n, h) => n + h.events.filter((e) => e.event === type).length, 0)
  console.log(JSON.stringify({ meshTime, dropTime, rejoinTime, timeout: 2000, adds: count('peer-add'), swaps: count('peer-swap'), closes: count('conn-close') }))
})
