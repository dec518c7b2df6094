import b4a from 'b4a'
import type { NetworkerOptions } from '../../lib/reactive-networker'
import type Hyperswarm from 'hyperswarm'
import { Networker } from '../../lib/facade'
import { ReactiveNetworker } from '../../lib/reactive-networker'
import { NetworkerError } from '../../lib/errors'
import type { Peer } from '../../lib/peer'
import { connect, createHarness, Harness, randomTopic, until, waitFor, waitForPeers, firewalledOptions, noiseOf, watchWarnings } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

function legacy(opts: NetworkerOptions = {}): Networker {
  const networker = new Networker(h.store(), opts.dht ? opts : { ...h.net.swarmOptions(), ...opts })
  h.onCleanup(() => networker.close())
  return networker
}

test('two lookup-only peers send hello and world inside peer-add; the announcer gets both, in order, from the right key', async () => {
  const topic = randomTopic()
  const announcer = legacy()
  const received: Array<{ message: string; from: string }> = []
  const got = new Promise<void>((resolve) => {
    announcer.registerExtension<string>('test-extension', {
      encoding: 'utf-8',
      onmessage: (message, peer) => {
        received.push({ message, from: b4a.toString(peer.remotePublicKey, 'hex') })
        if (received.length === 4) resolve()
      }
    })
  })
  const senders = [legacy(), legacy()]
  for (const sender of senders) {
    const ext = sender.registerExtension<string>('test-extension', { encoding: 'utf-8' })
    sender.on('peer-add', (peer: Peer) => {
      ext.send('hello', peer)
      ext.send('world', peer)
    })
  }
  await announcer.configure(topic, { announce: true, lookup: false })
  for (const sender of senders) await sender.configure(topic, { announce: false, lookup: true })
  await got
  for (const sender of senders) {
    const key = sender.reactive.publicKey?.toString('hex')
    expect(received.filter((r) => r.from === key).map((r) => r.message)).toEqual(['hello', 'world'])
  }
})

// ---------------------------------------------------------------------------------------------
// Helpers local to this file
// ---------------------------------------------------------------------------------------------

/** The Noise public key of a facade (it listens first if needed). */
async function keyOf(networker: Networker): Promise<Buffer> {
  await networker.listen()
  const key = networker.reactive.publicKey
  if (key === null) throw new Error('no public key after listen()')
  return key
}

function codeOf(err: unknown): string | undefined {
  return err instanceof NetworkerError ? err.code : undefined
}

// ---------------------------------------------------------------------------------------------
// Extensions in every legacy form
// ---------------------------------------------------------------------------------------------

test('one name registered twice: each message is delivered once, to the earliest registration alive; after destroying it, to the second', async () => {
  const a = legacy()
  const b = legacy()
  const first: string[] = []
  const second: string[] = []
  const firstExt = a.registerExtension<string>('dup', { encoding: 'utf-8', onmessage: (m) => first.push(m) })
  a.registerExtension<string>('dup', { encoding: 'utf-8', onmessage: (m) => second.push(m) })
  const sender = b.registerExtension<string>('dup', { encoding: 'utf-8' })
  const { atLooker: peerOfA } = await connect(a, b)

  sender.send('m1', peerOfA)
  sender.send('m2', peerOfA)
  await until(() => first.length === 2, 20_000, 'm1 and m2')
  firstExt.destroy()
  sender.send('m3', peerOfA)
  await until(() => second.length === 1, 20_000, 'm3')
  // Messages arrive in order on one channel: by the time m3 reached the second registration,
  // m1 and m2 were long delivered, each exactly once and only to the first.
  expect(first).toEqual(['m1', 'm2'])
  expect(second).toEqual(['m3'])
})

test('object form ({ name, encoding, onmessage }) registers and receives', async () => {
  const a = legacy()
  const b = legacy()
  const got: Array<{ message: string; from: string }> = []
  const ext = a.registerExtension<string>({
    name: 'object-form',
    encoding: 'utf-8',
    onmessage: (message, peer) => got.push({ message, from: b4a.toString(peer.remotePublicKey, 'hex') })
  })
  expect(ext.name).toBe('object-form')
  expect(ext.encoding.name).toBe('utf-8')
  const sender = b.registerExtension<string>({ name: 'object-form', encoding: 'utf-8' })
  const { atLooker: toAnnouncer } = await connect(a, b)
  sender.send('via object form', toAnnouncer)
  await until(() => got.length === 1)
  expect(got).toEqual([{ message: 'via object form', from: (await keyOf(b)).toString('hex') }])
})

test('function form (name, ext => handlers): onmessage replies with the ext it was given', async () => {
  const a = legacy()
  const b = legacy()
  let handed: unknown = null
  const returned = a.registerExtension<string>('fn-form', (ext) => {
    handed = ext
    return {
      encoding: 'utf-8',
      onmessage: (message, peer) => {
        ext.send(`echo:${message}`, peer)
      }
    }
  })
  expect(handed).toBe(returned)
  expect(returned.encoding.name).toBe('utf-8')
  const replies: string[] = []
  const client = b.registerExtension<string>('fn-form', { encoding: 'utf-8', onmessage: (m) => replies.push(m) })
  const { atLooker: toAnnouncer } = await connect(a, b)
  client.send('ping', toAnnouncer)
  await until(() => replies.length === 1)
  expect(replies).toEqual(['echo:ping'])
})

test('json round-trips objects, and ext.send(reply, from) to the peer handed to onmessage goes back both ways', async () => {
  type Msg = { n: number; text: string; nested: { list: number[]; flag: boolean; none: null } }
  const a = legacy()
  const b = legacy()
  const atA: Msg[] = []
  const atB: Msg[] = []
  const extA = a.registerExtension<Msg>('json-ext', {
    encoding: 'json',
    onmessage: (message, from) => {
      atA.push(message)
      if (message.n < 4) extA.send({ ...message, n: message.n + 1, text: 'from A' }, from)
    }
  })
  const extB = b.registerExtension<Msg>('json-ext', {
    encoding: 'json',
    onmessage: (message, from) => {
      atB.push(message)
      if (message.n < 4) extB.send({ ...message, n: message.n + 1, text: 'from B' }, from)
    }
  })
  expect(extA.encoding.name).toBe('json')
  const { atLooker: toAnnouncer } = await connect(a, b)
  const start: Msg = { n: 0, text: 'from B', nested: { list: [1, 2, 3], flag: true, none: null } }
  extB.send(start, toAnnouncer)
  await until(() => atA.length + atB.length === 5, 20_000, 'the ping-pong')
  expect(atA).toEqual([
    start,
    { n: 2, text: 'from B', nested: start.nested },
    { n: 4, text: 'from B', nested: start.nested }
  ])
  expect(atB).toEqual([
    { n: 1, text: 'from A', nested: start.nested },
    { n: 3, text: 'from A', nested: start.nested }
  ])
})

// ---------------------------------------------------------------------------------------------
// Peers, onauthenticate
// ---------------------------------------------------------------------------------------------

test('onauthenticate sees the remote key; a refused connection is never a peer and its core is not replicated', async () => {
  const refusedStore = h.store()
  const acceptedStore = h.store()
  const refused = new Networker(refusedStore, h.net.swarmOptions())
  const accepted = new Networker(acceptedStore, h.net.swarmOptions())
  h.onCleanup(() => refused.close())
  h.onCleanup(() => accepted.close())
  const refusedKey = await keyOf(refused)
  const acceptedKey = await keyOf(accepted)

  const seen: Buffer[] = []
  const gateStore = h.store()
  const gate = new Networker(gateStore, {
    ...h.net.swarmOptions(),
    onauthenticate: (remotePublicKey: Buffer, done: (err?: Error | null) => void) => {
      seen.push(remotePublicKey)
      setImmediate(() => done(remotePublicKey.equals(refusedKey) ? new Error('not you') : null))
    }
  })
  h.onCleanup(() => gate.close())
  const added: Peer[] = []
  gate.on('peer-add', (peer: Peer) => added.push(peer))
  const errs: unknown[] = []
  gate.on('error', (err: unknown) => errs.push(err))

  // Each remote has a core of its own with one block.
  const refusedCore = refusedStore.get({ name: 'mine' })
  const acceptedCore = acceptedStore.get({ name: 'mine' })
  await refusedCore.ready()
  await acceptedCore.ready()
  await refusedCore.append(Buffer.from('secret of the refused'))
  await acceptedCore.append(Buffer.from('block of the accepted'))

  const topic = randomTopic()
  await gate.configure(topic, { announce: true, lookup: false })
  await accepted.configure(topic, { announce: false, lookup: true })
  await refused.configure(topic, { announce: false, lookup: true })
  await waitFor(gate.reactive.errors$, (err) => err.code === 'ERR_AUTHENTICATION' && err.remoteKey === refusedKey.toString('hex'))
  await waitForPeers(gate.reactive, 1)

  expect(seen.some((k) => k.equals(acceptedKey))).toBe(true)
  expect(seen.some((k) => k.equals(refusedKey))).toBe(true)
  expect(added.map((p) => b4a.toString(p.remotePublicKey, 'hex'))).toEqual([acceptedKey.toString('hex')])
  expect([...gate.peers].map((p) => b4a.toString(p.remotePublicKey, 'hex'))).toEqual([acceptedKey.toString('hex')])
  expect(errs.some((e) => codeOf(e) === 'ERR_AUTHENTICATION')).toBe(true)

  // Positive control: the accepted peer's core replicates to the gate.
  const fromAccepted = gateStore.get({ key: acceptedCore.key as Buffer })
  await fromAccepted.ready()
  expect((await fromAccepted.get(0))?.toString()).toBe('block of the accepted')
  // The refused peer's core never does (the request can only time out).
  const fromRefused = gateStore.get({ key: refusedCore.key as Buffer })
  await fromRefused.ready()
  await expect(fromRefused.get(0, { timeout: 1500 })).rejects.toThrow()
  expect(await fromRefused.has(0)).toBe(false)
  expect(added).toHaveLength(1)
  expect([...gate.peers].every((p) => !b4a.equals(p.remotePublicKey, refusedKey))).toBe(true)
})

test('peers is a Set of the very objects peer-add handed out; peer-remove hands back the same object when the remote closes', async () => {
  const a = legacy()
  const b = legacy()
  const c = legacy()
  const added: Peer[] = []
  const removed: Peer[] = []
  a.on('peer-add', (peer: Peer) => added.push(peer))
  a.on('peer-remove', (peer: Peer) => removed.push(peer))
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: false })
  await b.configure(topic, { announce: false, lookup: true })
  await c.configure(topic, { announce: false, lookup: true })
  await waitForPeers(a.reactive, 2)
  await until(() => added.length === 2)

  const peers = a.peers
  expect(peers).toBeInstanceOf(Set)
  for (const peer of peers) {
    expect(peer.type).toBe('udx')
    expect(peer.remoteAddress).toMatch(/^[0-9.]+:[0-9]+$/)
    expect(peer.remotePublicKey).toHaveLength(32)
    expect(typeof noiseOf(peer).write).toBe('function')
  }
  expect(peers.size).toBe(2)
  for (const peer of peers) expect(added).toContain(peer)
  const cKey = await keyOf(c)
  const peerC = added.find((p) => b4a.equals(p.remotePublicKey, cKey))
  expect(peerC).toBeDefined()

  await c.close()
  await until(() => removed.length === 1, 20_000, 'peer-remove')
  expect(removed[0]).toBe(peerC)
  expect(a.peers.size).toBe(1)
  expect(a.peers.has(peerC as Peer)).toBe(false)
  expect([...a.peers][0]).toBe(added.find((p) => p !== peerC))
})

// ---------------------------------------------------------------------------------------------
// configure, events, errors
// ---------------------------------------------------------------------------------------------

test('configure takes a node-style callback: cb(null) once flushed, cb(err) with a coded error', async () => {
  const a = legacy()
  const topic = randomTopic()
  let returned: unknown = null
  await new Promise<void>((resolve, reject) => {
    returned = a.configure(topic, { announce: true, lookup: false }, (err) => {
      if (err) reject(err)
      else resolve()
    })
  })
  // As 1.x (call-me-maybe): the promise is returned with a callback too.
  expect(returned).toBeInstanceOf(Promise)
  expect(a.flushed(topic)).toBe(true)
  expect(a.joined(topic)).toBe(true)

  const err = await new Promise<Error | null>((resolve) => a.configure('not a key', {}, (e) => resolve(e)))
  expect(codeOf(err)).toBe('ERR_INVALID_KEY')

  await a.close()
  const closedErr = await new Promise<Error | null>((resolve) => a.configure(topic, {}, (e) => resolve(e)))
  expect(codeOf(closedErr)).toBe('ERR_CLOSED')
})

test("'error' is emitted only when someone listens: a garbage message without a listener crashes nothing", async () => {
  const a = legacy()
  const b = legacy()
  const got: unknown[] = []
  a.registerExtension<unknown>('strict-json', { encoding: 'json', onmessage: (m) => got.push(m) })
  const raw = b.registerExtension<Buffer>('strict-json', { encoding: 'binary' })
  const { atLooker: toAnnouncer } = await connect(a, b)
  expect(a.listenerCount('error')).toBe(0)

  raw.send(Buffer.from('{not json'), toAnnouncer)
  raw.send(Buffer.from(JSON.stringify({ after: 1 })), toAnnouncer)
  await until(() => got.length === 1, 20_000, 'the valid message')
  expect(got).toEqual([{ after: 1 }])

  const errs: unknown[] = []
  a.on('error', (err: unknown) => errs.push(err))
  raw.send(Buffer.from('{still not json'), toAnnouncer)
  raw.send(Buffer.from(JSON.stringify({ after: 2 })), toAnnouncer)
  await until(() => got.length === 2, 20_000, 'the second valid message')
  expect(errs).toHaveLength(1)
  expect(codeOf(errs[0])).toBe('ERR_DECODE')
  expect(a.peers.size).toBe(1)
})

test('ext.broadcast reaches every peer', async () => {
  const a = legacy()
  const receivers = [legacy(), legacy()]
  const got: string[][] = [[], []]
  const news = a.registerExtension<string>('news', { encoding: 'utf-8' })
  receivers.forEach((r, i) => r.registerExtension<string>('news', { encoding: 'utf-8', onmessage: (m) => got[i].push(m) }))
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: false })
  for (const r of receivers) await r.configure(topic, { announce: false, lookup: true })
  await waitForPeers(a.reactive, 2)
  news.broadcast('to all')
  await until(() => got.every((g) => g.length === 1), 20_000, 'both receivers')
  expect(got).toEqual([['to all'], ['to all']])
})

test('configure options (announce, lookup, flush, remember) show in joined/flushed/status/allStatuses', async () => {
  const a = legacy()
  const announced = randomTopic()
  const looked = randomTopic()
  await a.configure(announced, { announce: true, lookup: false, remember: true })
  await a.configure(looked, { announce: false, lookup: true, flush: false })
  expect(a.joined(announced)).toBe(true)
  expect(a.flushed(announced)).toBe(true)
  expect(a.joined(looked)).toBe(true)
  expect(a.status(announced)).toMatchObject({ announce: true, lookup: false, remember: true })
  // As 1.x: status() echoes the options passed (no remember key when none was passed).
  expect(a.status(looked)).toEqual({ discoveryKey: looked, announce: false, lookup: true, flush: false })
  expect(a.status(randomTopic())).toBeUndefined()
  expect(
    a
      .allStatuses()
      .map((s) => ({ key: b4a.toString(s.discoveryKey, 'hex'), announce: s.announce, lookup: s.lookup, remember: s.remember ?? false }))
      .sort((x, y) => (x.key < y.key ? -1 : 1))
  ).toEqual(
    [
      { key: announced.toString('hex'), announce: true, lookup: false, remember: true },
      { key: looked.toString('hex'), announce: false, lookup: true, remember: false }
    ].sort((x, y) => (x.key < y.key ? -1 : 1))
  )
})

// ---------------------------------------------------------------------------------------------
// Bugs of the old module
// ---------------------------------------------------------------------------------------------

test('legacy bug: flushed() is false after leaving (and await configure resolves only once flushed() is true)', async () => {
  const a = legacy()
  const b = legacy()
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: false })
  expect(a.flushed(topic)).toBe(true)
  await b.configure(topic, { announce: false, lookup: true })
  expect(b.flushed(topic)).toBe(true)
  expect(b.joined(topic)).toBe(true)

  await b.configure(topic, { announce: false, lookup: false })
  expect(b.flushed(topic)).toBe(false)
  expect(b.joined(topic)).toBe(false)
  expect(b.status(topic)).toBeUndefined()
  await a.configure(topic, { announce: false, lookup: false })
  expect(a.flushed(topic)).toBe(false)
  expect(a.joined(topic)).toBe(false)
})

test('legacy bug: leaving a key that was never joined resolves', async () => {
  const a = legacy()
  const topic = randomTopic()
  await expect(a.configure(topic, { announce: false, lookup: false })).resolves.toBeUndefined()
  expect(a.joined(topic)).toBe(false)
  expect(a.flushed(topic)).toBe(false)
  expect(a.allStatuses()).toEqual([])
})

test('legacy bug: configure after close rejects with ERR_CLOSED instead of crashing', async () => {
  const listened = legacy()
  await listened.configure(randomTopic(), { announce: true, lookup: false })
  await listened.close()
  await expect(listened.configure(randomTopic())).rejects.toMatchObject({ code: 'ERR_CLOSED' })

  const neverListened = legacy()
  await neverListened.close()
  await expect(neverListened.configure(randomTopic())).rejects.toMatchObject({ code: 'ERR_CLOSED' })
  await expect(neverListened.listen()).rejects.toMatchObject({ code: 'ERR_CLOSED' })
})

test('legacy bug: ext.destroy() stops delivery and the extension is not reopened for peers that come later', async () => {
  const a = legacy()
  const b = legacy()
  const gotX: string[] = []
  const gotCtrl: string[] = []
  const x = a.registerExtension<string>('x', { encoding: 'utf-8', onmessage: (m) => gotX.push(m) })
  a.registerExtension<string>('ctrl', { encoding: 'utf-8', onmessage: (m) => gotCtrl.push(m) })
  const bx = b.registerExtension<string>('x', { encoding: 'utf-8' })
  const bctrl = b.registerExtension<string>('ctrl', { encoding: 'utf-8' })
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: false })
  await b.configure(topic, { announce: false, lookup: true })
  const [aFromB] = await waitForPeers(b.reactive, 1)

  bx.send('one', aFromB)
  await until(() => gotX.length === 1)
  x.destroy()
  bx.send('two', aFromB)
  bctrl.send('mark', aFromB)
  await until(() => gotCtrl.length === 1, 20_000, 'the control message')
  expect(gotX).toEqual(['one'])

  // A peer that connects after destroy(): the extension is not opened for it.
  const c = h.networker()
  const cx = c.registerExtension('x', { encoding: 'utf-8' })
  const cctrl = c.registerExtension('ctrl', { encoding: 'utf-8' })
  await c.configure(topic, { announce: false, lookup: true })
  const cPeers = await waitFor(c.peers$, (ps) => ps.length >= 1)
  const aKey = await keyOf(a)
  const aFromC = cPeers.find((p) => b4a.equals(p.remotePublicKey, aKey)) as Peer
  expect(aFromC).toBeDefined()
  cx.send('three', aFromC)
  await until(() => cx.stats.dropped === 1, 20_000, 'the message to count as dropped')
  cctrl.send('mark2', aFromC)
  await until(() => gotCtrl.length === 2, 20_000, 'the second control message')
  expect(gotX).toEqual(['one'])
  expect(gotCtrl).toEqual(['mark', 'mark2'])
  expect(cx.stats.dropped).toBe(1)
})

test('legacy bug: duplicate connections make no peer-add/peer-add/peer-remove: one peer-add per remote, peer-remove only when it leaves', async () => {
  // Both sides dial each other at the same instant (Hyperswarm's joinPeer on both swarms) until
  // Hyperswarm has had to resolve a duplicate at least twice.
  let duplicateRounds = 0
  for (let round = 0; round < 15 && duplicateRounds < 2; round++) {
    // Firewalled DHT nodes: the holepunch path, where crossed connections happen.
    const a = legacy(firewalledOptions(h))
    const b = legacy(firewalledOptions(h))
    const events: { a: string[]; b: string[] } = { a: [], b: [] }
    a.on('peer-add', () => events.a.push('add'))
    a.on('peer-remove', () => events.a.push('remove'))
    b.on('peer-add', () => events.b.push('add'))
    b.on('peer-remove', () => events.b.push('remove'))
    const pongs: string[] = []
    const pingA = a.registerExtension<string>('ping', { encoding: 'utf-8', onmessage: (m) => pongs.push(m) })
    b.registerExtension<string>('ping', (ext) => ({
      encoding: 'utf-8',
      onmessage: (m, from) => ext.send(`pong:${m}`, from)
    }))
    const aKey = await keyOf(a)
    const bKey = await keyOf(b)
    const swarmA = swarmOf(a)
    const swarmB = swarmOf(b)
    let rawA = 0
    let rawB = 0
    swarmA.on('connection', () => rawA++)
    swarmB.on('connection', () => rawB++)
    swarmA.joinPeer(bKey)
    swarmB.joinPeer(aKey)
    const [bFromA] = await waitForPeers(a.reactive, 1)
    await waitForPeers(b.reactive, 1)
    // A round trip on an extension: the surviving connection carries traffic.
    pingA.send('ping', bFromA)
    await until(() => pongs.length === 1, 20_000, 'the pong')
    expect(pongs).toEqual(['pong:ping'])
    if (rawA > 1 || rawB > 1) duplicateRounds++

    await b.close()
    await until(() => events.a.includes('remove'), 20_000, 'peer-remove')
    expect(events.a).toEqual(['add', 'remove'])
    expect(events.b.filter((e) => e === 'add')).toEqual(['add'])
    expect([...a.peers]).toEqual([])
    await a.close()
  }
  expect(duplicateRounds).toBeGreaterThan(0)
})

/** The Hyperswarm behind a facade (test-only access, to dial a peer directly). */
function swarmOf(networker: Networker): Hyperswarm & { joinPeer(publicKey: Buffer): void } {
  const swarm = networker.reactive.hyperswarm
  if (swarm === null) throw new Error('the networker has not listened')
  return swarm as Hyperswarm & { joinPeer(publicKey: Buffer): void }
}

// ---------------------------------------------------------------------------------------------
// Errors reported once (issue 24): an error an extension's onerror handled is not warned about
// ---------------------------------------------------------------------------------------------


test("an undecodable message reaches the extension's onerror only: no process warning and no error event for it; without onerror it is still warned about", async () => {
  const watch = watchWarnings()
  try {
    const a = legacy()
    const b = legacy()
    const handled: unknown[] = []
    const got: unknown[] = []
    // Unique names: a warning is given once per kind (code and message) per process.
    a.registerExtension<unknown>('handled-json', { encoding: 'json', onmessage: (m) => got.push(m), onerror: (err) => handled.push(err) })
    a.registerExtension<unknown>('unhandled-json', { encoding: 'json', onmessage: (m) => got.push(m) })
    const rawHandled = b.registerExtension<Buffer>('handled-json', { encoding: 'binary' })
    const rawUnhandled = b.registerExtension<Buffer>('unhandled-json', { encoding: 'binary' })
    const { atLooker: toA } = await connect(a, b)

    rawHandled.send(Buffer.from('{not json'), toA)
    rawHandled.send(Buffer.from(JSON.stringify({ after: 1 })), toA)
    await until(() => got.length === 1, 20_000, 'the valid message after the bad one')
    expect(handled.map(codeOf)).toEqual(['ERR_DECODE'])
    expect(watch.warnings).toEqual([])

    // The same on an extension without onerror: nobody handled it, so it is a warning.
    rawUnhandled.send(Buffer.from('{not json either'), toA)
    rawUnhandled.send(Buffer.from(JSON.stringify({ after: 2 })), toA)
    await until(() => got.length === 2, 20_000, 'the second valid message')
    expect(watch.warnings.map((w) => ({ code: w.code, unhandled: w.message.includes('unhandled-json') }))).toEqual([
      { code: 'ERR_DECODE', unhandled: true }
    ])

    // With an 'error' listener: the handled error is still reported once (onerror), the other one as 'error'.
    const errs: unknown[] = []
    a.on('error', (err: unknown) => errs.push(err))
    rawHandled.send(Buffer.from('{bad 3'), toA)
    rawUnhandled.send(Buffer.from('{bad 4'), toA)
    rawUnhandled.send(Buffer.from(JSON.stringify({ after: 3 })), toA)
    await until(() => got.length === 3, 20_000, 'the third valid message')
    expect(handled.map(codeOf)).toEqual(['ERR_DECODE', 'ERR_DECODE'])
    expect(errs.map((e) => ({ code: codeOf(e), unhandled: (e as Error).message.includes('unhandled-json') }))).toEqual([
      { code: 'ERR_DECODE', unhandled: true }
    ])
    expect(watch.warnings).toHaveLength(1)
    expect(a.peers.size).toBe(1)
  } finally {
    watch.stop()
  }
})

test('a throwing onmessage goes to onerror, and only what onerror did not handle is warned about', async () => {
  const watch = watchWarnings()
  try {
    const a = legacy()
    const b = legacy()
    const handled: unknown[] = []
    a.registerExtension<string>('throws-handled', {
      encoding: 'utf-8',
      onmessage: () => {
        throw new Error('caller bug, handled')
      },
      onerror: (err) => handled.push(err)
    })
    const sender = b.registerExtension<string>('throws-handled', { encoding: 'utf-8' })
    const { atLooker: toA } = await connect(a, b)
    sender.send('boom', toA)
    await until(() => handled.length === 1, 20_000, 'onerror')
    expect(codeOf(handled[0])).toBe('ERR_HANDLER')
    expect(watch.warnings).toEqual([])
  } finally {
    watch.stop()
  }
})

// ---------------------------------------------------------------------------------------------
// The old `id` option (issue 24): ignored, and the caller is told once
// ---------------------------------------------------------------------------------------------

test('the old id option is ignored and said so once: a NetworkerWarning ERR_UNSUPPORTED naming the Noise key, not for a second networker, not without id', async () => {
  const watch = watchWarnings()
  try {
    const plain = legacy()
    expect(watch.warnings).toEqual([])
    const options = { id: Buffer.alloc(32, 1) } as NetworkerOptions
    const first = legacy(options)
    expect(watch.warnings).toHaveLength(1)
    expect(watch.warnings[0].code).toBe('ERR_UNSUPPORTED')
    expect(watch.warnings[0].message).toMatch(/"id"/)
    expect(watch.warnings[0].message).toMatch(/Noise/)
    legacy(options)
    expect(watch.warnings).toHaveLength(1)
    // The reactive API has no id option: it refuses one instead of ignoring it.
    // (No dht option: the constructor refuses before anything would touch the network.)
    expect(() => new ReactiveNetworker(h.store(), options)).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED' })
    )
    // Ignored: the peer's identity is its Noise key, and two networkers given the same id still meet.
    const { atLooker } = await connect(first, plain)
    expect(b4a.equals(atLooker.remotePublicKey, await keyOf(first))).toBe(true)
    expect(b4a.equals(await keyOf(first), Buffer.alloc(32, 1))).toBe(false)
  } finally {
    watch.stop()
  }
})
