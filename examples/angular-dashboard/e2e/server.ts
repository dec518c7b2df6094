/**
 * The server the Angular dashboard's browser test kills and restarts: a loopback testnet, a
 * host networker and `peers` others on one topic (each with a `chat` extension), the built app
 * (dist/angular-dashboard/browser) and `serveNetworker` on one port. The first peer writes a
 * core (`feed`) that the host opens by key, so the host's metrics$ has a core and bytes per peer
 * when the test makes blocks flow.
 *
 * Args: <port> <token> <peers> <dir>. Prints JSON lines on stdout: `{ ready, url, ws, host,
 * peers, feed }` (`feed`: the core's discovery key), then one per command. Commands on stdin:
 * `close <i>` (closes the i-th peer), `chat <i> <text>` (peer i says something on chat),
 * `append <n>` (the first peer appends n blocks of 4 KiB to the feed: `{ appended, length }`),
 * `download <end>` (the host downloads the feed's blocks [0, end): `{ downloaded, contiguous }`).
 */
import { randomBytes } from 'crypto'
import fs from 'fs'
import http from 'http'
import path from 'path'
import readline from 'readline'
import Corestore from 'corestore'
import { ReactiveNetworker, createLocalNetwork, type Extension } from '../../../lib'
import { serveNetworker } from '../../../lib/remote/server'

const [portArg, token, peersArg, dir] = process.argv.slice(2)
const DIST = path.join(__dirname, '..', 'dist', 'angular-dashboard', 'browser')
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' }
const BLOCK_SIZE = 4096

const say = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

async function main(): Promise<void> {
  const net = await createLocalNetwork()
  const stores: Corestore[] = []
  const networkers: ReactiveNetworker[] = []
  const chats: Extension<{ text: string }>[] = []
  for (let i = 0; i <= Number(peersArg); i++) {
    const store = new Corestore(fs.mkdtempSync(path.join(dir, 'store-')))
    stores.push(store)
    const networker = new ReactiveNetworker(store, net.swarmOptions())
    networkers.push(networker)
    chats.push(networker.registerExtension<{ text: string }>('chat', { encoding: 'json' }))
  }
  const topic = Buffer.alloc(32, 7)
  await Promise.all(networkers.map((n) => n.configure(topic, { announce: true, lookup: true })))
  const [host, ...others] = networkers
  await new Promise<void>((resolve) => {
    const sub = host.peers$.subscribe((peers) => {
      if (peers.length === others.length) {
        resolve()
        queueMicrotask(() => sub.unsubscribe())
      }
    })
  })
  // The first peer's core; the host opens it by key (Corestore replicates it over the connection
  // they already have) and downloads what the test asks for.
  const feed = stores[1].get({ name: 'feed' })
  await feed.ready()
  const copy = stores[0].get({ key: feed.key as Buffer })
  await copy.ready()

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://app.invalid')
    const name = path.basename(url.pathname)
    const file = name !== '' && fs.existsSync(path.join(DIST, name)) ? path.join(DIST, name) : path.join(DIST, 'index.html')
    response.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' })
    fs.createReadStream(file).pipe(response)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(portArg), '127.0.0.1', () => resolve())
  })
  const remote = await serveNetworker(host, {
    server,
    path: '/networker',
    token,
    extensions: [chats[0]],
    commands: true
  })
  const port = (server.address() as { port: number }).port
  const keyOf = (n: ReactiveNetworker): string => (n.publicKey as Buffer).toString('hex')
  say({
    ready: true,
    url: `http://127.0.0.1:${port}/`,
    ws: remote.url,
    host: keyOf(host),
    peers: others.map(keyOf),
    feed: (copy.discoveryKey as Buffer).toString('hex')
  })

  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, index, ...rest] = line.trim().split(' ')
    const i = Number(index)
    if (command === 'close') {
      void others[i].close().then(() => say({ closed: keyOf(others[i]) }))
    } else if (command === 'chat') {
      chats[i + 1].broadcast({ text: rest.join(' ') })
      say({ chat: i })
    } else if (command === 'append') {
      const blocks = Array.from({ length: i }, () => randomBytes(BLOCK_SIZE))
      void feed.append(blocks).then(({ length }) => say({ appended: i, length }))
    } else if (command === 'download') {
      void copy
        .download({ start: 0, end: i })
        .done()
        .then(() => say({ downloaded: i, contiguous: copy.contiguousLength }))
    } else if (command === 'stop') {
      void (async () => {
        await remote.close()
        server.close()
        await Promise.all(networkers.map((n) => n.close()))
        await Promise.all(stores.map((s) => s.close()))
        await net.destroy()
        say({ stopped: true })
        process.exit(0)
      })()
    }
  })
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
