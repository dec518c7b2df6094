/**
 * The remote server against clients it must refuse or survive: no token or a wrong one, a
 * foreign origin, malformed and oversize frames, abuse of subscriptions, too many clients,
 * and a host off loopback without a token. Each refusal is a close code; nothing is sent first.
 */
import http from 'http'
import { filter, firstValueFrom, tap, toArray } from 'rxjs'
import { serveNetworker, parseClientFrame, type RemoteServer, type ServeOptions } from '../lib/remote/server'
import { CloseCodes } from '../lib/remote/client'
import { clientKit, fakeNetworker, rawClient, until, type FakeNetworker } from './kit'

const clients = clientKit()
const servers: RemoteServer[] = []
let fake: FakeNetworker

async function serve(opts: ServeOptions = {}): Promise<RemoteServer> {
  const server = await serveNetworker(fake, opts)
  servers.push(server)
  return server
}

beforeEach(() => {
  fake = fakeNetworker()
})

afterEach(async () => {
  clients.closeAll()
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/** The server still serves a well-behaved client. */
async function stillServes(server: RemoteServer, token?: string): Promise<void> {
  const client = clients.connect(server.url, { token })
  expect(await firstValueFrom(client.peers$)).toEqual([])
  client.close()
  await until(() => server.clients === 0, 5000, 'the client gone')
}

test('without the token, or with a wrong one, a client is refused with 4401 and receives nothing', async () => {
  const server = await serve({ token: 'sesame' })
  for (const token of [undefined, 'wrong', 'sesame!', '']) {
    const raw = rawClient(server.url, { token })
    raw.ws.on('open', () => raw.ws.send(JSON.stringify({ op: 'sub', id: 1, stream: 'peers' })))
    expect(await raw.closed).toEqual({ code: CloseCodes.UNAUTHORIZED, reason: 'unauthorized' })
    expect(raw.received).toEqual([])
  }
  // The client stops for good on a refusal: no retry loop.
  const refused = clients.connect(server.url, { token: 'nope' })
  await firstValueFrom(refused.connection$.pipe(filter((s) => s === 'closed')))
  expect(refused.closeInfo).toEqual({ code: CloseCodes.UNAUTHORIZED, reason: 'unauthorized' })
  await stillServes(server, 'sesame')
  expect(fake.live()).toBe(1) // only the server's own watch of peers$
})

test('a token with any characters works (it travels as hex in a subprotocol entry)', async () => {
  const token = 'pä ss,wörd 🔑'
  const server = await serve({ token })
  await stillServes(server, token)
})

test('a page from an origin that is not allowed is refused with 4403', async () => {
  const server = await serve({ allowOrigins: ['http://localhost:4200'] })
  const foreign = rawClient(server.url, { origin: 'http://evil.example' })
  expect(await foreign.closed).toEqual({ code: CloseCodes.FORBIDDEN_ORIGIN, reason: 'origin not allowed' })
  expect(foreign.received).toEqual([])
  const listed = rawClient(server.url, { origin: 'http://localhost:4200' })
  await listed.opened
  await until(() => listed.received.length === 1, 5000, 'hello')
  expect(JSON.parse(listed.received[0])).toMatchObject({ op: 'hello', version: 3 })
  listed.ws.close()
})

test('by default only pages of the server’s own loopback origin are allowed (not a rebound name)', async () => {
  const server = await serve()
  const { host } = new URL(server.url)
  const own = rawClient(server.url, { origin: `http://${host}` })
  await own.opened
  own.ws.close()
  const other = rawClient(server.url, { origin: 'http://127.0.0.1:1' })
  expect((await other.closed).code).toBe(CloseCodes.FORBIDDEN_ORIGIN)
  // DNS rebinding: the attacker's name resolves to 127.0.0.1, Origin and Host agree on it.
  const rebound = rawClient(server.url, {
    origin: `http://evil.example:${new URL(server.url).port}`,
    headers: { host: `evil.example:${new URL(server.url).port}` }
  })
  expect((await rebound.closed).code).toBe(CloseCodes.FORBIDDEN_ORIGIN)
})

test('malformed frames get 4400 and never crash the server', async () => {
  const server = await serve()
  const frames: Array<string | Buffer> = [
    'not json',
    '[]',
    'null',
    '42',
    JSON.stringify({ op: 'sub' }),
    JSON.stringify({ op: 'sub', id: -1, stream: 'peers' }),
    JSON.stringify({ op: 'sub', id: 1.5, stream: 'peers' }),
    JSON.stringify({ op: 'sub', id: 1, stream: 'everything' }),
    JSON.stringify({ op: 'sub', id: 1, stream: 'messages' }),
    JSON.stringify({ op: 'configure', id: 1, key: 'zz' }),
    JSON.stringify({ op: 'send', id: 1, name: 'chat', message: 'x', binary: true }),
    JSON.stringify({ op: 'send', id: 1, name: 'chat' }),
    JSON.stringify({ op: 'drained', id: 1 }),
    JSON.stringify({ op: 'drained', id: 1, name: 5 }),
    JSON.stringify({ op: 'explode', id: 1 }),
    JSON.stringify({ __proto__: { op: 'sub' }, id: 1 }),
    Buffer.from([0, 1, 2, 3])
  ]
  for (const frame of frames) {
    const raw = rawClient(server.url)
    await raw.opened
    raw.ws.send(frame)
    const { code } = await raw.closed
    expect([frame.toString(), code]).toEqual([frame.toString(), CloseCodes.BAD_FRAME])
  }
  await stillServes(server)
  expect(server.clients).toBe(0)
})

test('random garbage frames: each client is closed with a code, the server keeps serving', async () => {
  const server = await serve({ maxFrameBytes: 1024 })
  let seed = 7
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  for (let i = 0; i < 40; i++) {
    const raw = rawClient(server.url)
    await raw.opened
    const length = Math.floor(random() * 2048)
    const bytes = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)))
    raw.ws.send(random() < 0.5 ? bytes : bytes.toString('latin1'))
    const { code } = await raw.closed
    expect([CloseCodes.BAD_FRAME, CloseCodes.TOO_LARGE]).toContain(code)
  }
  await stillServes(server)
})

test('an oversize frame is closed with 1009', async () => {
  const server = await serve({ maxFrameBytes: 1024 })
  const raw = rawClient(server.url)
  await raw.opened
  raw.ws.send(JSON.stringify({ op: 'sub', id: 1, stream: 'peers', pad: 'x'.repeat(4096) }))
  expect((await raw.closed).code).toBe(CloseCodes.TOO_LARGE)
  await stillServes(server)
})

test('subscription abuse: a reused id or too many subscriptions close the client with 4400', async () => {
  const server = await serve({ maxSubscriptions: 3 })
  const reuse = rawClient(server.url)
  await reuse.opened
  reuse.ws.send(JSON.stringify({ op: 'sub', id: 1, stream: 'peers' }))
  reuse.ws.send(JSON.stringify({ op: 'sub', id: 1, stream: 'topics' }))
  expect(await reuse.closed).toEqual({ code: CloseCodes.BAD_FRAME, reason: 'subscription id in use' })

  const many = rawClient(server.url)
  await many.opened
  for (let id = 1; id <= 4; id++) many.ws.send(JSON.stringify({ op: 'sub', id, stream: 'errors' }))
  expect(await many.closed).toEqual({ code: CloseCodes.BAD_FRAME, reason: 'too many subscriptions' })
  await until(() => server.subscriptions === 0, 5000, 'released')
  expect(fake.live()).toBe(1)
})

test('a client without our subprotocol is refused with 4400', async () => {
  const server = await serve()
  const raw = rawClient(server.url, { protocols: [] })
  expect((await raw.closed).code).toBe(CloseCodes.BAD_FRAME)
  expect(raw.received).toEqual([])
})

test('more than maxClients clients: the extra one is closed with 4429', async () => {
  const server = await serve({ maxClients: 2 })
  const a = rawClient(server.url)
  const b = rawClient(server.url)
  await Promise.all([a.opened, b.opened])
  await until(() => server.clients === 2, 5000, 'two clients')
  const c = rawClient(server.url)
  expect((await c.closed).code).toBe(CloseCodes.TOO_MANY_CLIENTS)
  a.ws.close()
  b.ws.close()
})

test('loopback only by default: another host needs a token; other paths get 404', async () => {
  await expect(serveNetworker(fake, { host: '0.0.0.0' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' })
  await expect(serveNetworker(fake, { host: '192.0.2.1' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' })
  await expect(serveNetworker(fake, { token: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' })
  const server = await serve()
  expect(new URL(server.url).hostname).toBe('127.0.0.1')
  const wrongPath = rawClient(server.url.replace('/networker', '/other'))
  await expect(wrongPath.opened).rejects.toThrow('404')
  // Plain HTTP gets 426.
  const status = await new Promise<number>((resolve, reject) =>
    http.get(server.url.replace('ws:', 'http:'), (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }).on('error', reject)
  )
  expect(status).toBe(426)
})

test('attached to an existing http.Server, it leaves the server’s other routes alone', async () => {
  const httpServer = http.createServer((_req, res) => res.end('page'))
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', () => resolve()))
  const server = await serve({ server: httpServer, path: '/ws' })
  const port = (httpServer.address() as { port: number }).port
  expect(server.url).toBe(`ws://127.0.0.1:${port}/ws`)
  await stillServes(server)
  const body = await (await fetch(`http://127.0.0.1:${port}/`)).text()
  expect(body).toBe('page')
  await server.close()
  // Our close leaves the given server listening; its owner closes it.
  expect(httpServer.listening).toBe(true)
  await new Promise<void>((resolve) => httpServer.close(() => resolve()))
})

test('parseClientFrame keeps only the fields it knows', () => {
  expect(parseClientFrame({ op: 'sub', id: 3, stream: 'messages', name: 'chat', extra: 1 })).toEqual({
    op: 'sub',
    id: 3,
    stream: 'messages',
    name: 'chat'
  })
  expect(parseClientFrame({ op: 'configure', id: 1, key: 'AB'.repeat(32) })).toEqual({
    op: 'configure',
    id: 1,
    key: 'ab'.repeat(32),
    announce: true,
    lookup: true,
    flush: false
  })
})

test('closing the client completes its streams, rejects its pending commands, and frees the server', async () => {
  // A networker whose configure never answers.
  fake.configure = () => new Promise(() => {})
  const server = await serve({ commands: true })
  const client = clients.connect(server.url)
  const seen: unknown[] = []
  const peers = firstValueFrom(client.peers$.pipe(tap((value) => seen.push(value)), toArray()))
  await until(() => server.subscriptions === 1, 5000, 'subscribed')
  const pending = client.configure('ab'.repeat(32))
  await until(() => server.clients === 1, 5000, 'connected')
  // The server's first value is on its way once it subscribed: close after it arrived.
  await until(() => seen.length === 1, 5000, 'the first peers$ value')
  client.close()
  await expect(pending).rejects.toMatchObject({ code: 'ERR_CLOSED' })
  expect(await peers).toEqual([[]])
  expect(await firstValueFrom(client.connection$.pipe(toArray()))).toEqual(['closed'])
  await until(() => server.clients === 0 && server.subscriptions === 0, 5000, 'released')
  await expect(client.configure('ab'.repeat(32))).rejects.toMatchObject({ code: 'ERR_CLOSED' })
})
