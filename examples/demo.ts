/**
 * The demo: a local HyperDHT on loopback, one writer and three readers of a core, all sharing a
 * `chat` extension. The writer appends blocks, the readers replicate them while chat messages
 * flow; progress bars, the live peer sets (`peers$`) and topic states (`topic$`) and the last
 * chat lines update in place on a terminal, or print as plain lines into a pipe.
 *
 *   npm run demo                      # runs, prints a summary, exits (within 30 s)
 *   npm run demo -- --blocks 500      # fewer blocks
 *   npm run demo -- --serve           # then keeps running with the live dashboard (Ctrl-C stops)
 *   npm run demo -- --help
 */
import b4a from 'b4a'
import Corestore from 'corestore'
import fs from 'fs'
import os from 'os'
import path from 'path'
import { parseArgs } from 'util'
import {
  BehaviorSubject,
  Subscription,
  auditTime,
  combineLatest,
  filter,
  firstValueFrom,
  fromEvent,
  interval,
  map,
  merge,
  startWith,
  take,
  timeout
} from 'rxjs'
import { ReactiveNetworker, createLocalNetwork } from '../lib'
import type { CoreProgress, Extension, LocalNetwork } from '../lib'
import { PlainDisplay, TtyDisplay, type Display } from './demo-display'
import { startDashboard, type Dashboard } from './dashboard/server'

const USAGE = `Usage: npm run demo -- [options]

A writer and three readers of a core on a local HyperDHT (loopback only), with a chat extension.

Options:
  --blocks <n>        blocks the writer appends (default 2000)
  --block-size <n>    bytes per block (default 4096)
  --serve             keep running afterwards with the live dashboard of the writer's networker
  --port <n>          dashboard port with --serve (default: a free one), bound to 127.0.0.1
  --plain             plain lines even on a terminal
  -h, --help          this help`

const TIME_LIMIT = 30_000
const READERS = 3

interface Options {
  blocks: number
  blockSize: number
  serve: boolean
  port: number
  plain: boolean
}

/** What a reader's progress$ and metrics$ showed, for the summary. */
interface ReaderFigures {
  peakRate: number
  last: CoreProgress | null
}

interface ChatMessage {
  from: string
  text: string
}

interface Node {
  name: string
  dir: string
  store: Corestore
  networker: ReactiveNetworker
  chat: Extension<ChatMessage>
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      blocks: { type: 'string', default: '2000' },
      'block-size': { type: 'string', default: '4096' },
      serve: { type: 'boolean', default: false },
      port: { type: 'string', default: '0' },
      plain: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    },
    strict: true
  })
  if (values.help) return null
  const integer = (name: string, raw: string, min: number, max: number): number => {
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`)
    return n
  }
  return {
    blocks: integer('blocks', values.blocks, 1, 1_000_000),
    blockSize: integer('block-size', values['block-size'], 4, 1024 * 1024),
    serve: values.serve,
    port: integer('port', values.port, 0, 65535),
    plain: values.plain
  }
}

async function main(): Promise<void> {
  let opts: Options | null
  try {
    opts = parseOptions(process.argv.slice(2))
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`)
    process.exitCode = 2
    return
  }
  if (opts === null) {
    console.log(USAGE)
    return
  }
  const { blocks: BLOCKS, blockSize: BLOCK_SIZE } = opts
  const started = Date.now()
  const readerNames = Array.from({ length: READERS }, (_, i) => `reader${i + 1}`)
  const nodeNames = ['writer', ...readerNames]
  const displayOptions = {
    title: `@basestore/networker demo: 1 writer, ${READERS} readers, ${BLOCKS} blocks, a chat extension`,
    bars: [{ name: 'writer', verb: 'appended' }, ...readerNames.map((name) => ({ name, verb: 'downloaded' }))],
    nodes: nodeNames
  }
  const display: Display =
    process.stdout.isTTY && !opts.plain ? new TtyDisplay(BLOCK_SIZE, displayOptions) : new PlainDisplay(displayOptions)

  const nodes: Node[] = []
  const subscriptions = new Subscription()
  let net: LocalNetwork | null = null
  let dashboard: Dashboard | null = null

  // Everything is released once, whichever way the demo ends (done, failure, Ctrl-C).
  let cleaning: Promise<void> | null = null
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      display.stop()
      subscriptions.unsubscribe()
      await dashboard?.close()
      await Promise.all(nodes.map((n) => n.networker.close()))
      await Promise.all(nodes.map((n) => n.store.close()))
      await net?.destroy()
      for (const node of nodes) fs.rmSync(node.dir, { recursive: true, force: true })
    })())

  // Ctrl-C or a kill before the end: clean up, then leave with the conventional code.
  const signals$ = merge(fromEvent(process, 'SIGINT'), fromEvent(process, 'SIGTERM'), fromEvent(process, 'SIGHUP')).pipe(take(1))
  let serving = false
  const interrupt = signals$.subscribe(() => {
    if (serving) return // the --serve wait below handles it
    display.log('interrupted: cleaning up')
    void cleanup().finally(() => process.exit(130))
  })
  // The demo ends by itself: a hang is a failure, not a wait.
  const watchdog = setTimeout(() => {
    display.log(`the demo did not finish within ${TIME_LIMIT / 1000} s`)
    void cleanup().finally(() => process.exit(1))
  }, TIME_LIMIT)

  try {
    display.status('starting a HyperDHT on 127.0.0.1')
    net = await createLocalNetwork({ size: 3 })
    const dhtAddress = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ')

    for (const name of nodeNames) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `networker-demo-${name}-`))
      const store = new Corestore(dir)
      const networker = new ReactiveNetworker(store, net.swarmOptions())
      const chat = networker.registerExtension<ChatMessage>('chat', { encoding: 'json' })
      nodes.push({ name, dir, store, networker, chat })
    }
    const [writer, ...readers] = nodes

    // Listen first, so every node's key (and so its name) is known before anyone connects.
    await Promise.all(nodes.map((n) => n.networker.listen()))
    const names = new Map(nodes.map((n) => [(n.networker.publicKey as Buffer).toString('hex'), n.name]))
    const nameOf = (key: Uint8Array): string => names.get(b4a.toString(key, 'hex')) ?? b4a.toString(key, 'hex').slice(0, 8)

    const core = writer.store.get({ name: 'demo-core' })
    await core.ready()
    const discoveryKey = core.discoveryKey as Buffer

    if (opts.serve) {
      dashboard = await startDashboard(writer.networker, {
        port: opts.port,
        chat: writer.chat as Extension<unknown>,
        names,
        store: writer.store
      })
      display.log(`dashboard of the writer's networker: ${dashboard.url}`)
    }

    // The live peer set and topic state of every node.
    for (const node of nodes) {
      subscriptions.add(
        combineLatest([node.networker.peers$, node.networker.topic$(discoveryKey)])
          .pipe(auditTime(30))
          .subscribe(([peers, topic]) => display.node(node.name, peers.map((p) => nameOf(p.remotePublicKey)), topic))
      )
      subscriptions.add(node.networker.errors$.subscribe((err) => display.log(`${node.name} error ${err.code}: ${err.message}`)))
    }

    // Chat: every node counts what it receives.
    const delivered$ = new BehaviorSubject(0)
    subscriptions.add(
      merge(
        ...nodes.map((node) =>
          node.networker.messages$(node.chat).pipe(map(({ message, peer }) => ({ message, peer, to: node.name })))
        )
      ).subscribe(({ message, peer, to }) => {
        delivered$.next(delivered$.value + 1)
        display.chat(nameOf(peer.remotePublicKey), to, message.text)
      })
    )

    display.status(`local HyperDHT on ${dhtAddress}: joining core ${discoveryKey.toString('hex').slice(0, 12)}…`)
    await writer.networker.configure(discoveryKey, { announce: true, lookup: true })

    // Append while the readers join.
    display.status('writer appending while the readers join')
    for (const name of ['writer', ...readerNames]) display.progress(name, 0, BLOCKS)
    const appending = (async () => {
      const block = Buffer.alloc(BLOCK_SIZE)
      for (let i = 0; i < BLOCKS; i += 100) {
        const batch: Buffer[] = []
        for (let j = i; j < Math.min(BLOCKS, i + 100); j++) {
          block.writeUInt32BE(j, 0)
          batch.push(Buffer.from(block))
        }
        await core.append(batch)
        display.progress('writer', core.length, BLOCKS)
      }
    })()

    await Promise.all(readers.map((reader) => reader.networker.configure(discoveryKey, { announce: true, lookup: true })))
    display.status('all four configured; waiting for the full mesh (readers find each other)')
    await Promise.all(
      nodes.map((node) => firstValueFrom(node.networker.peers$.pipe(filter((peers) => peers.length === READERS))))
    )

    // Everyone greets everyone.
    for (const node of nodes) node.chat.broadcast({ from: node.name, text: `hello from ${node.name}` })

    await appending
    display.status(`writer appended ${BLOCKS} blocks of ${BLOCK_SIZE} bytes; readers replicating`)

    const readerFigures = new Map<string, ReaderFigures>(readers.map((reader) => [reader.name, { peakRate: 0, last: null }]))
    const downloadStart = Date.now()
    const verified = await Promise.all(
      readers.map(async (reader) => {
        const clone = reader.store.get({ key: core.key as Buffer })
        await clone.ready()
        // The bar: this core's blocks received and download rate (metrics$, a sample every 250 ms)
        // and its replication progress (progress$, event-driven). Blocks arrive from three peers
        // out of order, so the contiguous run (progress$) jumps near the end: the bar shows the
        // larger of the two.
        const dk = discoveryKey.toString('hex')
        const traffic$ = reader.networker.metrics$({ interval: 250 }).pipe(
          map((sample) => ({ rate: sample.cores[dk]?.bytesDownPerSecond ?? 0, blocks: sample.cores[dk]?.blocksDown ?? 0 })),
          startWith({ rate: 0, blocks: 0 })
        )
        const seen = readerFigures.get(reader.name) as ReaderFigures
        const progress = combineLatest([reader.networker.progress$(clone), traffic$]).subscribe(([state, { rate, blocks }]) => {
          seen.peakRate = Math.max(seen.peakRate, rate)
          display.progress(reader.name, Math.min(Math.max(state.contiguousLength, blocks), BLOCKS), BLOCKS, rate)
        })
        subscriptions.add(progress)
        await clone.update({ wait: true })
        await clone.download({ start: 0, end: BLOCKS }).done()
        // progress$ turns synced with the last block.
        seen.last = await firstValueFrom(
          reader.networker.progress$(clone).pipe(filter((state) => state.synced && state.contiguousLength === BLOCKS), timeout(5000))
        ).catch(() => null)
        display.progress(reader.name, BLOCKS, BLOCKS)
        progress.unsubscribe()
        let ok = 0
        for (let i = 0; i < BLOCKS; i++) {
          const block = await clone.get(i)
          if (block !== null && block.readUInt32BE(0) === i && block.byteLength === BLOCK_SIZE) ok++
        }
        // Tell the others, on the chat, while the mesh is still up.
        reader.chat.broadcast({ from: reader.name, text: `verified ${ok}/${BLOCKS} blocks` })
        return ok
      })
    )
    const seconds = (Date.now() - downloadStart) / 1000

    // Every greeting (4 nodes × 3 peers) and every reader's report (3 × 3).
    const expected = nodes.length * READERS + READERS * READERS
    display.status('waiting for the last chat messages')
    await firstValueFrom(delivered$.pipe(filter((n) => n >= expected), timeout(5000))).catch(() => undefined)
    display.status(`done in ${((Date.now() - started) / 1000).toFixed(2)} s`)
    display.stop()

    const mib = (READERS * BLOCKS * BLOCK_SIZE) / (1024 * 1024)
    const lines = [
      '',
      'Summary',
      ...readers.map((reader, i) => {
        const { peakRate, last } = readerFigures.get(reader.name) as ReaderFigures
        const progress = last === null ? 'no progress$ value' : `progress ${(last.progress * 100).toFixed(0)}%${last.synced ? ', synced' : ''}`
        return `  ${reader.name}: ${verified[i]}/${BLOCKS} blocks verified, ${progress}, peak ${(peakRate / (1024 * 1024)).toFixed(1)} MiB/s (metrics$)`
      }),
      `  chat messages delivered: ${delivered$.value}/${expected}`,
      `  replicated ${mib.toFixed(1)} MiB to ${READERS} readers in ${seconds.toFixed(2)} s (${(mib / seconds).toFixed(1)} MiB/s)`,
      `  total time ${((Date.now() - started) / 1000).toFixed(2)} s`
    ]
    console.log(lines.join('\n'))
    const ok = verified.every((n) => n === BLOCKS) && delivered$.value >= expected
    if (!ok) process.exitCode = 1
    clearTimeout(watchdog)

    if (opts.serve && dashboard !== null) {
      serving = true
      console.log(`\nDashboard: ${dashboard.url}  (Ctrl-C to stop)`)
      // Keep a little chat going so the dashboard's message log stays alive.
      let tick = 0
      subscriptions.add(
        interval(3000).subscribe(() => {
          const reader = readers[tick % READERS]
          tick++
          reader.chat.broadcast({ from: reader.name, text: `still here (#${tick})` })
        })
      )
      await firstValueFrom(signals$)
      console.log('stopping')
    }
  } finally {
    clearTimeout(watchdog)
    interrupt.unsubscribe()
    await cleanup()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
