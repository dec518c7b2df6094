import b4a from 'b4a'
import { spawn, ChildProcess } from 'child_process'
import path from 'path'
import { randomBytes } from 'crypto'
import type Corestore from 'corestore'
import Protomux from 'protomux'
import { ConfigStore } from '../../lib/config-store'
import type { ReactiveNetworker } from '../../lib/reactive-networker'
import type { TopicState } from '../../operators/types'
import { createHarness, Harness, randomTopic, waitFor, waitForPeers, noiseOf } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

// ---------------------------------------------------------------------------------------------
// Helpers local to this file
// ---------------------------------------------------------------------------------------------

/** A key that sorts before (`0x00…`) or after (`0xff…`) every other in hex order. */
function keyAt(edge: 'first' | 'last'): Buffer {
  const key = randomBytes(32)
  key[0] = edge === 'first' ? 0x00 : 0xff
  return key
}

function hex(key: Buffer): string {
  return key.toString('hex')
}

/** Closes a networker and its store (a process that shuts down cleanly). */
async function shutdown(networker: ReactiveNetworker, store: Corestore): Promise<void> {
  await networker.close()
  await store.close()
}

/** Waits until `topics$` shows `key` joined with exactly these flags. */
function restored(networker: ReactiveNetworker, key: Buffer, announce: boolean, lookup: boolean): Promise<TopicState> {
  return waitFor(networker.topics$, (m) => {
    const s = m.get(hex(key))
    return s !== undefined && s.joined && s.announce === announce && s.lookup === lookup
  }).then((m) => m.get(hex(key)) as TopicState)
}

/** The remembered configurations in a store, as plain sortable rows. */
async function listed(store: Corestore): Promise<Array<{ key: string; announce: boolean; lookup: boolean }>> {
  const rows = await ConfigStore.list(store)
  return rows.map((r) => ({ key: hex(r.discoveryKey), announce: r.announce, lookup: r.lookup })).sort((x, y) => (x.key < y.key ? -1 : 1))
}

// ---------------------------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------------------------

test('configure(k, { remember: true }) shows remember: true in status and allStatuses', async () => {
  const a = h.networker()
  const remembered = randomTopic()
  const plain = randomTopic()
  await a.configure(remembered, { announce: true, lookup: false, remember: true })
  await a.configure(plain, { announce: true, lookup: false })
  expect(a.status(remembered)).toMatchObject({ announce: true, lookup: false, remember: true })
  expect(a.status(plain)).toMatchObject({ announce: true, lookup: false, remember: false })
  const all = a.allStatuses().map((s) => ({ key: hex(s.discoveryKey), remember: s.remember }))
  expect(all).toEqual(
    expect.arrayContaining([
      { key: hex(remembered), remember: true },
      { key: hex(plain), remember: false }
    ])
  )
  expect(all).toHaveLength(2)
})

// ---------------------------------------------------------------------------------------------
// Restoring
// ---------------------------------------------------------------------------------------------

test('a new networker on the same store directory restores announce-only, lookup-only and both on listen(); a third peer finds the restored announcer', async () => {
  const dir = h.tmpdir()
  const announceOnly = randomTopic()
  const lookupOnly = randomTopic()
  const both = randomTopic()

  const store1 = h.storeAt(dir)
  const first = h.networker(store1)
  await first.configure(announceOnly, { announce: true, lookup: false, remember: true })
  await first.configure(lookupOnly, { announce: false, lookup: true, remember: true, flush: false })
  await first.configure(both, { announce: true, lookup: true, remember: true, flush: false })
  const firstKey = first.publicKey as Buffer
  await shutdown(first, store1)

  const store2 = h.storeAt(dir)
  const second = h.networker(store2)
  await second.listen()
  await Promise.all([
    restored(second, announceOnly, true, false),
    restored(second, lookupOnly, false, true),
    restored(second, both, true, true)
  ])
  for (const [key, announce, lookup] of [
    [announceOnly, true, false],
    [lookupOnly, false, true],
    [both, true, true]
  ] as const) {
    expect(second.status(key)).toMatchObject({ announce, lookup, remember: true })
  }
  // Same store, same identity.
  expect((second.publicKey as Buffer).equals(firstKey)).toBe(true)

  // A third peer looks the announce-only key up and finds the restored networker.
  const third = h.networker()
  await third.configure(announceOnly, { announce: false, lookup: true })
  const [peer] = await waitForPeers(third, 1)
  expect(b4a.equals(peer.remotePublicKey, second.publicKey as Buffer)).toBe(true)
})

test('remember: false forgets a remembered key', async () => {
  const dir = h.tmpdir()
  const forgotten = keyAt('first')
  const sentinel = keyAt('last')
  const store1 = h.storeAt(dir)
  const first = h.networker(store1)
  await first.configure(forgotten, { announce: true, lookup: false, remember: true })
  await first.configure(sentinel, { announce: true, lookup: false, remember: true })
  expect((await listed(store1)).map((r) => r.key)).toEqual([hex(forgotten), hex(sentinel)])

  await first.configure(forgotten, { announce: true, lookup: false, remember: false })
  expect(first.status(forgotten)).toMatchObject({ announce: true, lookup: false, remember: false })
  expect(first.joined(forgotten)).toBe(true) // forgetting does not leave
  expect(await listed(store1)).toEqual([{ key: hex(sentinel), announce: true, lookup: false }])
  await shutdown(first, store1)

  // Restores run in key order: once the sentinel (sorting last) is back, the forgotten key,
  // sorting first, would already have been restored if it were remembered.
  const store2 = h.storeAt(dir)
  const second = h.networker(store2)
  await second.listen()
  await restored(second, sentinel, true, false)
  expect(second.joined(forgotten)).toBe(false)
  expect(second.allStatuses().map((s) => hex(s.discoveryKey))).toEqual([hex(sentinel)])
})

test('leaving a remembered key forgets it', async () => {
  const dir = h.tmpdir()
  const left = keyAt('first')
  const sentinel = keyAt('last')
  const store1 = h.storeAt(dir)
  const first = h.networker(store1)
  await first.configure(left, { announce: true, lookup: false, remember: true })
  await first.configure(sentinel, { announce: false, lookup: true, remember: true, flush: false })
  await first.configure(left, { announce: false, lookup: false })
  expect(first.status(left)).toBeNull()
  expect(await listed(store1)).toEqual([{ key: hex(sentinel), announce: false, lookup: true }])
  await shutdown(first, store1)

  const store2 = h.storeAt(dir)
  const second = h.networker(store2)
  await second.listen()
  await restored(second, sentinel, false, true)
  expect(second.joined(left)).toBe(false)
  expect(second.allStatuses().map((s) => hex(s.discoveryKey))).toEqual([hex(sentinel)])
})

test('a key the caller configures while restores run wins over its remembered configuration', async () => {
  const dir = h.tmpdir()
  const other = keyAt('first')
  const contested = keyAt('last')
  const store1 = h.storeAt(dir)
  const first = h.networker(store1)
  await first.configure(other, { announce: true, lookup: false, remember: true })
  await first.configure(contested, { announce: true, lookup: false, remember: true })
  await shutdown(first, store1)

  const store2 = h.storeAt(dir)
  const second = h.networker(store2)
  await second.listen()
  // Restores have started in the background; the caller configures the contested key now.
  const state = await second.configure(contested, { announce: false, lookup: true, flush: false })
  expect(state).toMatchObject({ announce: false, lookup: true, joined: true })
  // The other key is restored (so restoring ran, and ran past the contested key's position) …
  await restored(second, other, true, false)
  await restored(second, contested, false, true)
  // … and the caller's configuration is the one in force.
  expect(second.status(contested)).toMatchObject({ announce: false, lookup: true })
  const topic = await waitFor(second.topic$(contested), () => true)
  expect(topic).toMatchObject({ announce: false, lookup: true, joined: true })
})

test("status().remember tells whether a key will be restored, also for a key the caller reconfigured during restore", async () => {
  const dir = h.tmpdir()
  const contested = randomTopic()
  const store1 = h.storeAt(dir)
  const first = h.networker(store1)
  await first.configure(contested, { announce: true, lookup: false, remember: true })
  await shutdown(first, store1)

  const store2 = h.storeAt(dir)
  const second = h.networker(store2)
  await second.listen()
  // The caller reconfigures the remembered key while restores run, without `remember`
  // ("leave as is").
  await second.configure(contested, { announce: false, lookup: true, flush: false })
  const shown = second.status(contested)?.remember
  await shutdown(second, store2)

  // What the next start restores must agree with what status() said.
  const store3 = h.storeAt(dir)
  const row = (await listed(store3)).find((r) => r.key === hex(contested))
  const willRestore = row !== undefined
  expect({ statusRemember: shown, restoredNextTime: willRestore }).toEqual({
    statusRemember: willRestore,
    restoredNextTime: willRestore
  })
  // And if it is restored, then with the configuration the caller put in force.
  if (row !== undefined) expect(row).toMatchObject({ announce: false, lookup: true })
})

// ---------------------------------------------------------------------------------------------
// Crash safety
// ---------------------------------------------------------------------------------------------

test('crash safety: a child SIGKILLed right after `await configure(k, { remember: true })` resolved; a new networker on its directory restores k', async () => {
  const dir = h.tmpdir()
  const topic = randomTopic()
  const bootstrap = h.net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', path.join(__dirname, '../fixtures/remember-child.ts'), dir, bootstrap, hex(topic)],
    { cwd: path.join(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] }
  )
  h.onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code))
  )
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.split('\n').includes('configured')) {
        child.kill('SIGKILL') // right then: no close, no flush
        resolve()
      }
    })
    child.once('exit', () => reject(new Error(`the child exited before configuring: ${stderr}`)))
  })
  expect(await exited).toBe('SIGKILL')

  const store = h.storeAt(dir)
  const networker = h.networker(store)
  await networker.listen()
  await restored(networker, topic, true, false)
  expect(networker.status(topic)).toMatchObject({ announce: true, lookup: false, remember: true })
}, 60_000)

// ---------------------------------------------------------------------------------------------
// The config store stays private
// ---------------------------------------------------------------------------------------------

test('the config core is not offered to peers: no replication channel is opened for it, while the shared core replicates', async () => {
  const storeA = h.store()
  const storeB = h.store()
  const data = storeA.get({ name: 'data' })
  await data.ready()
  await data.append(Buffer.from('shared block'))
  const a = h.networker(storeA)
  const b = h.networker(storeB)
  // Something remembered: the config core exists and is open in A before any peer connects.
  await a.configure(randomTopic(), { announce: true, lookup: false, remember: true })
  await a.configure(data.discoveryKey as Buffer, { announce: true, lookup: false })
  await b.configure(data.discoveryKey as Buffer, { announce: false, lookup: true })
  const clone = storeB.get({ key: data.key as Buffer })
  await clone.ready()
  expect((await clone.get(0))?.toString()).toBe('shared block')

  const configKey = await ConfigStore.discoveryKey(storeA)
  expect(configKey).not.toBeNull()
  const [bAtA] = await waitForPeers(a, 1)
  const [aAtB] = await waitForPeers(b, 1)
  const protocol = 'hypercore/alpha'
  for (const peer of [bAtA, aAtB]) {
    const mux = Protomux.from(noiseOf(peer))
    expect(mux.opened({ protocol, id: data.discoveryKey as Buffer })).toBe(true) // control
    expect(mux.opened({ protocol, id: configKey as Buffer })).toBe(false)
  }
})

test('a fresh store has no remembered configurations, and listen() creates no config store', async () => {
  const store = h.store()
  expect(await ConfigStore.list(store)).toEqual([])
  const networker = h.networker(store)
  await networker.listen()
  await networker.configure(randomTopic(), { announce: true, lookup: false })
  expect(await ConfigStore.list(store)).toEqual([])
  // Nothing was remembered, so the config core was not created.
  expect(await ConfigStore.exists(store)).toBe(false)
  expect(await ConfigStore.list(store)).toEqual([])

  // Control: remembering something creates it.
  await networker.configure(randomTopic(), { announce: true, lookup: false, remember: true })
  expect(await ConfigStore.exists(store)).toBe(true)
  expect(await ConfigStore.list(store)).toHaveLength(1)
})

test('networkers opened and closed one after another on one store leave no Corestore session of the config store behind', async () => {
  const store = h.store()
  await store.ready()
  // Corestore keeps every open session of a store in its root's `corestores` (internal, read
  // only here): a namespace session nobody closes stays there for the store's life.
  const sessions = (): number => (store as unknown as { corestores: Set<unknown> }).corestores.size
  const before = sessions()
  const key = randomTopic()
  for (let i = 0; i < 5; i++) {
    const networker = h.networker(store)
    // Remembers (a write), then the next networker restores it (a read) and lists it again.
    await networker.configure(key, { announce: true, lookup: false, remember: true })
    expect(await listed(store)).toEqual([{ key: hex(key), announce: true, lookup: false }])
    expect(await ConfigStore.discoveryKey(store)).not.toBeNull()
    await networker.close()
  }
  expect(sessions()).toBe(before)
})
