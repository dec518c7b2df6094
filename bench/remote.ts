/**
 * Figures of the remote layer (docs/remote.md): reconnect time after a server restart, server
 * memory per connected client with hundreds of clients, and messages per second to one client.
 *
 *   npx ts-node --transpile-only bench/remote.ts [--clients=200,500] [--restarts=20]
 *
 * The server side uses a networker made of Subjects (test/kit/remote.ts), so the figures are the
 * remote layer's own; `messages/s end to end` also runs the path from a real peer networker's
 * extension through the host networker, the server and the client. Clients for the memory figure
 * run in a child process, so the server's heap holds only the server.
 */
import { fork } from 'child_process'
import os from 'os'
import { filter, firstValueFrom } from 'rxjs'
import WebSocket from 'ws'
import { connectNetworker, type RemoteNetworker } from '../lib/remote/client'
import { serveNetworker, type RemoteServer } from '../lib/remote/server'
import { createHarness, fakeNetworker, fakePeer, memory, randomTopic, sleep, until, waitForPeers } from '../test/kit'
import { median, percentile } from './common'

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [name, value] = arg.replace(/^--/, '').split('=')
    return [name, value ?? 'true']
  })
)

function remoteClient(url: string): RemoteNetworker {
  return connectNetworker(url, { WebSocketCtor: WebSocket })
}

/** ms from the restarted server listening to the client holding the new snapshot. */
async function reconnectAfterRestart(downtime: number, rounds: number): Promise<number[]> {
  const times: number[] = []
  const fake = fakeNetworker()
  let server: RemoteServer = await serveNetworker(fake)
  const port = Number(new URL(server.url).port)
  const client = remoteClient(server.url)
  let generation = 0
  fake.peers.next([fakePeer(1)])
  client.peers$.subscribe()
  await firstValueFrom(client.peers$.pipe(filter((p) => p.length === 1)))
  for (let round = 0; round < rounds; round++) {
    await server.close()
    await firstValueFrom(client.connection$.pipe(filter((s) => s === 'reconnecting')))
    generation = (generation % 200) + 2
    fake.peers.next([fakePeer(generation)])
    await sleep(downtime)
    server = await serveNetworker(fake, { port })
    const listening = performance.now()
    const expected = generation.toString(16).padStart(2, '0').repeat(32)
    await firstValueFrom(client.peers$.pipe(filter((p) => p.length === 1 && p[0].remotePublicKey === expected)))
    times.push(performance.now() - listening)
  }
  client.close()
  await server.close()
  return times
}

/** Server memory per client: `count` clients (peers$, topics$, errors$, messages$('chat')) in a child. */
async function memoryPerClient(count: number): Promise<{ count: number; heapPerClient: number; rssPerClient: number; externalPerClient: number }> {
  const fake = fakeNetworker()
  fake.peers.next([fakePeer(1), fakePeer(2), fakePeer(3)])
  const server = await serveNetworker(fake, { extensions: [fake.chat], maxClients: count + 10 })
  // Warm up: one client through everything once, so lazily loaded code is not counted.
  const warm = remoteClient(server.url)
  await firstValueFrom(warm.peers$)
  warm.close()
  await until(() => server.clients === 0, 10_000, 'warm-up client gone')
  await sleep(200)
  const before = memory()
  const child = fork(__filename, [`--child-clients=${count}`, `--url=${server.url}`], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    child.once('exit', (code) => reject(new Error(`client process exited with ${code}`)))
  })
  await until(() => server.clients === count && server.subscriptions === count * 4, 60_000, 'all clients subscribed')
  await sleep(500)
  const after = memory()
  child.removeAllListeners('exit')
  child.kill('SIGKILL')
  await until(() => server.clients === 0, 60_000, 'clients gone')
  await server.close()
  return {
    count,
    heapPerClient: (after.heapUsed - before.heapUsed) / count,
    rssPerClient: (after.rss - before.rss) / count,
    externalPerClient: (after.external - before.external) / count
  }
}

/** The child of `memoryPerClient`: opens `count` clients and reports when all have their peers. */
async function childClients(count: number, url: string): Promise<void> {
  const clients: RemoteNetworker[] = []
  for (let i = 0; i < count; i++) {
    const client = remoteClient(url)
    clients.push(client)
    client.topics$.subscribe()
    client.errors$.subscribe()
    client.messages$('chat').subscribe()
  }
  await Promise.all(clients.map((client) => firstValueFrom(client.peers$)))
  for (const client of clients) client.peers$.subscribe()
  process.send?.('ready')
  await new Promise(() => {})
}

/** Counts the client's `chat` messages; `finished` resolves at `total`. Resolves once subscribed. */
async function countMessages(
  client: RemoteNetworker,
  server: RemoteServer,
  total: number
): Promise<{ received: () => number; finished: Promise<void> }> {
  let received = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => (done = resolve))
  client.messages$('chat').subscribe(() => {
    if (++received === total) done()
  })
  await until(() => server.subscriptions === 1, 10_000, 'subscribed')
  return { received: () => received, finished }
}

/** Messages per second one client receives from a Subject-driven server (JSON `{ text }`, ~80 B). */
async function messagesPerSecondFake(total: number): Promise<{ perSecond: number; cutOff: boolean }> {
  const fake = fakeNetworker()
  const server = await serveNetworker(fake, { extensions: [fake.chat] })
  const client = remoteClient(server.url)
  const counter = await countMessages(client, server, total)
  const peer = fakePeer(1)
  const started = performance.now()
  let sent = 0
  // In batches, yielding between them, the way events arrive from a networker.
  while (sent < total && server.subscriptions === 1) {
    for (let i = 0; i < 256 && sent < total; i++, sent++) fake.chat.incoming.next({ message: { text: `message ${sent}` }, peer })
    await new Promise((resolve) => setImmediate(resolve))
  }
  const cutOff = server.subscriptions !== 1
  if (!cutOff) await counter.finished
  const seconds = (performance.now() - started) / 1000
  client.close()
  await server.close()
  return { perSecond: counter.received() / seconds, cutOff }
}

/** End to end: a peer networker's extension → host networker → server → client. */
async function messagesPerSecondEndToEnd(total: number): Promise<number> {
  const h = await createHarness()
  try {
    const topic = randomTopic()
    const host = h.networker()
    const peer = h.networker()
    const hostChat = host.registerExtension<{ text: string }>('chat', { encoding: 'json' })
    const peerChat = peer.registerExtension<{ text: string }>('chat', { encoding: 'json' })
    await host.configure(topic, { announce: true, lookup: false })
    await peer.configure(topic, { announce: false, lookup: true })
    await waitForPeers(host, 1)
    const [hostAtPeer] = await waitForPeers(peer, 1)
    const server = await serveNetworker(host, { extensions: [hostChat] })
    const client = remoteClient(server.url)
    const counter = await countMessages(client, server, total)
    const started = performance.now()
    for (let sent = 0; sent < total; ) {
      const batch: Array<{ text: string }> = []
      for (let i = 0; i < 256 && sent < total; i++, sent++) batch.push({ text: `message ${sent}` })
      if (!peerChat.sendMany(batch, hostAtPeer)) await peerChat.drained()
      await new Promise((resolve) => setImmediate(resolve))
    }
    await counter.finished
    const perSecond = counter.received() / ((performance.now() - started) / 1000)
    client.close()
    await server.close()
    return perSecond
  } finally {
    await h.cleanup()
  }
}

async function main(): Promise<void> {
  if (args['child-clients'] !== undefined) {
    return childClients(Number(args['child-clients']), args.url)
  }
  const counts = (args.clients ?? '200,500').split(',').map(Number)
  const restarts = Number(args.restarts ?? 20)
  const load = os.loadavg().map((n) => n.toFixed(2)).join(' / ')
  console.log(`Machine: ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}; load ${load}`)

  const only = args.only
  for (const downtime of only === undefined || only === 'reconnect' ? [0, 1000, 3000] : []) {
    const times = await reconnectAfterRestart(downtime, restarts)
    console.log(
      `reconnect after restart, server down ${downtime} ms: median ${median(times).toFixed(0)} ms, p90 ${percentile(times, 90).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms (${times.length} restarts; client defaults: first retry 250 ms, doubling, max 5 s)`
    )
  }
  for (const count of only === undefined || only === 'memory' ? counts : []) {
    const m = await memoryPerClient(count)
    console.log(
      `memory per client, ${count} clients × 4 subscriptions: heap ${(m.heapPerClient / 1024).toFixed(1)} KiB, external ${(m.externalPerClient / 1024).toFixed(1)} KiB, RSS ${(m.rssPerClient / 1024).toFixed(1)} KiB`
    )
  }
  const rounds = only === undefined || only === 'messages' ? 3 : 0
  for (let i = 0; i < rounds; i++) {
    const fake = await messagesPerSecondFake(200_000)
    console.log(`messages/s to one client (Subject source, one process): ${Math.round(fake.perSecond).toLocaleString('en')}${fake.cutOff ? ' (cut off as too slow!)' : ''}`)
  }
  for (let i = 0; i < rounds; i++) {
    const e2e = await messagesPerSecondEndToEnd(100_000)
    console.log(`messages/s to one client, end to end from a peer's extension: ${Math.round(e2e).toLocaleString('en')}`)
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
