/**
 * `serveNetworker` + `connectNetworker` against real networkers on a loopback testnet: the
 * remote streams show what the local ones show, commands act on the networker, a restarted
 * server resyncs the client, a slow client is cut off and comes back with a snapshot.
 */
import { distinctUntilChanged, firstValueFrom, filter, map, take, toArray, timeout } from 'rxjs'
import WebSocket from 'ws'
import type { Extension, ReactiveNetworker } from '../lib'
import { serveNetworker, type RemoteServer } from '../lib/remote/server'
import { CloseCodes, type ConnectionState, type RemoteNetworker } from '../lib/remote/client'
import { clientKit, createHarness, fakeNetworker, fakePeer, Harness, randomTopic, until, waitFor, waitForPeers } from './kit'

let h: Harness
const clients = clientKit()
const servers: RemoteServer[] = []

async function serve(...args: Parameters<typeof serveNetworker>): Promise<RemoteServer> {
  const server = await serveNetworker(...args)
  servers.push(server)
  return server
}

const keyOf = (n: ReactiveNetworker): string => (n.publicKey as Buffer).toString('hex')
const keysOf = (client: RemoteNetworker, count: number): Promise<string[]> =>
  waitFor(client.peers$, (peers) => peers.length === count).then((peers) => peers.map((p) => p.remotePublicKey).sort())

beforeEach(async () => {
  h = await createHarness()
})

afterEach(async () => {
  clients.closeAll()
  await Promise.all(servers.splice(0).map((server) => server.close()))
  await h.cleanup()
})

/** A host networker and `count` others, all on one topic and connected to each other. */
async function mesh(
  count: number,
  prepare: (networker: ReactiveNetworker) => void = () => {}
): Promise<{ host: ReactiveNetworker; others: ReactiveNetworker[]; topic: Buffer }> {
  const topic = randomTopic()
  const host = h.networker()
  const others = Array.from({ length: count }, () => h.networker())
  for (const n of [host, ...others]) prepare(n)
  await Promise.all([host, ...others].map((n) => n.configure(topic, { announce: true, lookup: true })))
  await waitForPeers(host, count)
  return { host, others, topic }
}

test('three peers appear on the client, and a closed networker vanishes from it', async () => {
  const { host, others } = await mesh(3)
  const server = await serve(host)
  const client = clients.connect(server.url)
  expect(await keysOf(client, 3)).toEqual(others.map(keyOf).sort())
  const info = await firstValueFrom(client.server$)
  expect(info).toEqual({ version: 3, publicKey: keyOf(host), extensions: [], commands: false })

  const events = firstValueFrom(client.peerEvents$.pipe(filter((e) => e.type === 'remove')))
  const leaving = keyOf(others[2])
  await others[2].close()
  expect((await events).peer.remotePublicKey).toBe(leaving)
  expect(await keysOf(client, 2)).toEqual(others.slice(0, 2).map(keyOf).sort())
  // The peer objects keep no `stream`: plain, frozen, JSON-shaped values with hex keys.
  const [peer] = await firstValueFrom(client.peers$)
  expect(Object.keys(peer).sort()).toEqual(['remoteAddress', 'remotePublicKey', 'type'])
  expect(Object.isFrozen(peer)).toBe(true)
})

test('topics$ hands the current topics first, and topic$ follows one topic', async () => {
  const { host, topic } = await mesh(1)
  const server = await serve(host)
  const client = clients.connect(server.url)
  const hex = topic.toString('hex')
  const first = await firstValueFrom(client.topics$)
  expect(first.get(hex)).toEqual({ discoveryKey: hex, announce: true, lookup: true, joined: true, flushed: true })

  const other = randomTopic()
  const states = client.topic$(other).pipe(
    map((s) => s.joined),
    distinctUntilChanged(),
    take(3),
    toArray()
  )
  const seen = firstValueFrom(states)
  await waitFor(client.topic$(other), (s) => !s.joined)
  await host.configure(other, { announce: true, lookup: false })
  await host.configure(other, { announce: false, lookup: false })
  expect(await seen).toEqual([false, true, false])
})

test('messages of a published extension arrive with their peer; bytes as Uint8Array', async () => {
  // Extensions registered before the peers connect: the channels open with the connections.
  const topic = randomTopic()
  const host = h.networker()
  const others = [h.networker(), h.networker()]
  const chat = host.registerExtension<{ text: string }>('chat', { encoding: 'json' })
  const blob = host.registerExtension('blob')
  const remoteChat = others.map((n) => n.registerExtension<{ text: string }>('chat', { encoding: 'json' }))
  const remoteBlob = others[0].registerExtension('blob')
  const server = await serve(host, { extensions: [chat, blob] })
  const client = clients.connect(server.url)
  const chats = firstValueFrom(client.messages$<{ text: string }>('chat').pipe(take(2), toArray()))
  const bytes = firstValueFrom(client.messages$<Uint8Array>('blob'))
  await until(() => server.subscriptions === 2, 5000, 'two subscriptions')
  await Promise.all([host, ...others].map((n) => n.configure(topic, { announce: true, lookup: true })))
  await Promise.all(others.map((n) => waitForPeers(n, 2)))
  remoteChat[0].broadcast({ text: 'from 0' })
  remoteChat[1].broadcast({ text: 'from 1' })
  remoteBlob.broadcast(Buffer.from([1, 2, 3]))
  const got = await chats
  expect(got.map((m) => m.message.text).sort()).toEqual(['from 0', 'from 1'])
  expect(got.map((m) => m.peer.remotePublicKey).sort()).toEqual(others.map(keyOf).sort())
  const blobMessage = await bytes
  expect(blobMessage.message).toBeInstanceOf(Uint8Array)
  expect([...blobMessage.message]).toEqual([1, 2, 3])
  expect(blobMessage.peer.remotePublicKey).toBe(keyOf(others[0]))
})

test('commands: configure and leave a topic, send on a published extension (to one peer and to all)', async () => {
  const chats: Extension<string>[] = []
  const { host } = await mesh(1, (n) => chats.push(n.registerExtension<string>('chat', { encoding: 'utf-8' })))
  const [chat, remoteChat] = chats
  const server = await serve(host, { extensions: [chat], commands: true })
  const client = clients.connect(server.url)
  expect((await firstValueFrom(client.server$)).commands).toBe(true)

  const topic = randomTopic().toString('hex')
  const state = await client.configure(topic, { announce: true, lookup: false })
  expect(state).toEqual({ discoveryKey: topic, announce: true, lookup: false, joined: true, flushed: true })
  expect(host.status(topic)).toMatchObject({ announce: true, lookup: false })
  await waitFor(client.topics$, (topics) => topics.has(topic))
  const left = await client.leave(topic)
  expect(left.joined).toBe(false)
  expect(host.joined(topic)).toBe(false)

  const received = firstValueFrom(remoteChat.messages$.pipe(take(2), toArray()))
  const [peer] = await firstValueFrom(client.peers$)
  expect(await client.send('chat', 'to you', peer)).toEqual({ accepted: true, full: false, waiting: 0 })
  expect(await client.send('chat', 'to all')).toEqual({ accepted: true, full: false, waiting: 0 })
  await client.drained('chat')
  expect((await received).map((m) => m.message)).toEqual(['to you', 'to all'])
  await expect(client.send('chat', 'x', 'ab'.repeat(32))).rejects.toMatchObject({ code: 'ERR_UNKNOWN_PEER' })
  await expect(client.send('other', 'x')).rejects.toMatchObject({ code: 'ERR_UNKNOWN_EXTENSION' })
})

test('commands are rejected when off, and the connection stays usable', async () => {
  const host = h.networker()
  const server = await serve(host)
  const client = clients.connect(server.url)
  await expect(client.configure('ab'.repeat(32))).rejects.toMatchObject({ code: 'ERR_COMMANDS_OFF' })
  await expect(client.send('chat', 'hi')).rejects.toMatchObject({ code: 'ERR_COMMANDS_OFF' })
  expect(host.joined('ab'.repeat(32))).toBe(false)
  expect(await firstValueFrom(client.peers$)).toEqual([])
})

test('a client cannot subscribe to an extension the server does not publish', async () => {
  const host = h.networker()
  const secret = host.registerExtension('secret')
  void secret
  const server = await serve(host)
  const client = clients.connect(server.url)
  await expect(firstValueFrom(client.messages$('secret'))).rejects.toMatchObject({ code: 'ERR_UNKNOWN_EXTENSION' })
  // Nothing is held for it on the server, and the rest works.
  expect(await firstValueFrom(client.peers$)).toEqual([])
  expect(server.subscriptions).toBe(1)
})

test('the server subscribes only to what the client subscribes, and releases it', async () => {
  const fake = fakeNetworker()
  const server = await serve(fake, { extensions: [fake.chat] })
  // The server's own watch of peers$ (networker end, peers for `send`).
  const baseline = fake.live()
  const client = clients.connect(server.url)
  await firstValueFrom(client.connection$.pipe(filter((s) => s === 'open')))
  expect(server.subscriptions).toBe(0)
  expect(fake.live()).toBe(baseline)

  const a = client.peers$.subscribe()
  const b = client.peers$.subscribe() // shared: still one on the server
  const c = client.messages$('chat').subscribe()
  await until(() => server.subscriptions === 2, 5000, 'two server subscriptions')
  expect(fake.live()).toBe(baseline + 2)
  a.unsubscribe()
  b.unsubscribe()
  await until(() => server.subscriptions === 1, 5000, 'one left')
  c.unsubscribe()
  await until(() => server.subscriptions === 0 && fake.live() === baseline, 5000, 'none left')
  client.close()
  await until(() => server.clients === 0, 5000, 'no client')
})

test('after a server restart the client shows the live state, never a stale peer', async () => {
  const { host, others, topic } = await mesh(2)
  let server = await serve(host)
  const port = Number(new URL(server.url).port)
  const client = clients.connect(server.url)
  const states: ConnectionState[] = []
  client.connection$.subscribe((s) => states.push(s))
  expect(await keysOf(client, 2)).toEqual(others.map(keyOf).sort())
  await waitFor(client.topics$, (t) => t.has(topic.toString('hex')))

  await server.close()
  await until(() => states.includes('reconnecting'), 5000, 'reconnecting')
  // While the server is down: a peer leaves and the host leaves the topic, joins another.
  await others[1].close()
  await waitForPeers(host, 1)
  await host.configure(topic, { announce: false, lookup: false })
  const fresh = randomTopic()
  await host.configure(fresh, { announce: true, lookup: false })

  server = await serve(host, { port })
  expect(await keysOf(client, 1)).toEqual([keyOf(others[0])])
  const topics = await waitFor(client.topics$, (t) => t.has(fresh.toString('hex')))
  expect([...topics.keys()]).toEqual([fresh.toString('hex')])
  expect(states.slice(0, 2)).toEqual(['connecting', 'open'])
  expect(states.slice(-2)).toEqual(['reconnecting', 'open'])
})

test('when the networker closes, the client streams complete and the connection is closed (4000)', async () => {
  const host = h.networker()
  const server = await serve(host)
  const client = clients.connect(server.url)
  const peers = firstValueFrom(client.peers$.pipe(toArray()))
  await waitFor(client.peers$, () => true)
  await host.close()
  expect(await peers).toEqual([[]])
  await firstValueFrom(client.connection$.pipe(filter((s) => s === 'closed')))
  expect(client.closeInfo?.code).toBe(CloseCodes.NETWORKER_CLOSED)
  await until(() => server.clients === 0, 5000, 'no client')
  // A new client of a closed networker is refused at once, for good.
  const late = clients.connect(server.url)
  await firstValueFrom(late.connection$.pipe(filter((s) => s === 'closed'), timeout(5000)))
  expect(late.closeInfo?.code).toBe(CloseCodes.NETWORKER_CLOSED)
})

test('a client that cannot keep up is closed with 4008, and comes back with a snapshot', async () => {
  const fake = fakeNetworker()
  const server = await serve(fake, { extensions: [fake.chat], maxBufferedBytes: 64 * 1024 })
  // The first socket this client opens stops reading (as a frozen tab would).
  const sockets: WebSocket[] = []
  class RecordingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols)
      sockets.push(this)
    }
  }
  const client = clients.connect(server.url, { WebSocketCtor: RecordingWebSocket })
  const states: ConnectionState[] = []
  client.connection$.subscribe((s) => states.push(s))
  client.messages$('chat').subscribe()
  fake.peers.next([fakePeer(1)])
  await waitFor(client.peers$, (p) => p.length === 1)
  await until(() => server.subscriptions === 2, 5000, 'two subscriptions')
  sockets[0].pause()
  const big = 'x'.repeat(16 * 1024)
  // Push until the server gives up on the client (the kernel's socket buffers fill first).
  let pushed = 0
  while (server.subscriptions > 0 && pushed < 20_000) {
    fake.chat.incoming.next({ message: big, peer: fakePeer(1) })
    pushed++
    if (pushed % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  expect(server.subscriptions).toBe(0)
  sockets[0].resume()
  await until(() => states.includes('reconnecting'), 10_000, 'reconnecting')
  // The peer set changed meanwhile: the new connection starts from the live snapshot.
  fake.peers.next([fakePeer(2)])
  await waitFor(client.peers$, (p) => p.length === 1 && p[0].remotePublicKey === '02'.repeat(32))
  expect(client.closeInfo?.code).toBe(CloseCodes.TOO_SLOW)
  expect(states.at(-1)).toBe('open')
  expect(sockets.length).toBe(2)
})
