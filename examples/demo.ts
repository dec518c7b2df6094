/**
 * The demo: a local HyperDHT on loopback, one writer and three readers of a core, all sharing a
 * `chat` extension. The writer appends blocks, the readers replicate them while chat messages
 * flow, and the live peer sets and topic states come from `peers$` and `topics$`.
 *
 *   npm run demo                 # runs, prints a summary, exits
 *   npm run demo -- --blocks 500 # fewer blocks
 */
import Corestore from 'corestore'
import fs from 'fs'
import os from 'os'
import path from 'path'
import { parseArgs } from 'util'
import { combineLatest, filter, firstValueFrom, map, Subscription } from 'rxjs'
import { ReactiveNetworker, createLocalNetwork } from '../lib'

const { values } = parseArgs({
  options: {
    blocks: { type: 'string', default: '2000' },
    'block-size': { type: 'string', default: '4096' }
  }
})
const BLOCKS = Number(values.blocks)
const BLOCK_SIZE = Number(values['block-size'])
const READERS = 3

interface Node {
  name: string
  dir: string
  store: Corestore
  networker: ReactiveNetworker
}

async function main(): Promise<void> {
  const started = Date.now()
  const log = (line: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(2)}s] ${line}`)
  const net = await createLocalNetwork({ size: 3 })
  log(`local HyperDHT up on ${net.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ')}`)

  const nodes: Node[] = []
  const subscriptions = new Subscription()
  const makeNode = (name: string): Node => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `networker-demo-${name}-`))
    const store = new Corestore(dir)
    const networker = new ReactiveNetworker(store, net.swarmOptions())
    const node = { name, dir, store, networker }
    nodes.push(node)
    return node
  }

  try {
    const writer = makeNode('writer')
    const readers = Array.from({ length: READERS }, (_, i) => makeNode(`reader${i + 1}`))
    const names = new Map<string, string>()

    const core = writer.store.get({ name: 'demo-core' })
    await core.ready()
    const discoveryKey = core.discoveryKey as Buffer

    // Chat on every node; each line names its sender.
    let delivered = 0
    const chats = nodes.map((node) => {
      const chat = node.networker.registerExtension<{ from: string; text: string }>('chat', { encoding: 'json' })
      subscriptions.add(
        node.networker.messages$(chat).subscribe(({ message }) => {
          delivered++
          if (delivered <= 6) log(`chat ${message.from} → ${node.name}: ${message.text}`)
        })
      )
      return chat
    })

    // The live peer set of the writer, as names.
    for (const node of nodes) {
      subscriptions.add(node.networker.errors$.subscribe((err) => log(`${node.name} error ${err.code}: ${err.message}`)))
    }
    subscriptions.add(
      writer.networker.peers$.subscribe((peers) =>
        log(`writer peers$: [${peers.map((p) => names.get(p.remotePublicKey.toString('hex')) ?? '?').join(', ')}]`)
      )
    )
    subscriptions.add(
      writer.networker.topic$(discoveryKey).subscribe((s) =>
        log(`writer topic$: announce=${s.announce} lookup=${s.lookup} joined=${s.joined} flushed=${s.flushed}`)
      )
    )

    await writer.networker.configure(discoveryKey, { announce: true, lookup: true })
    names.set(writer.networker.publicKey?.toString('hex') ?? '', writer.name)

    // Append while the readers join.
    const appending = (async () => {
      const block = Buffer.alloc(BLOCK_SIZE)
      for (let i = 0; i < BLOCKS; i += 100) {
        const batch: Buffer[] = []
        for (let j = i; j < Math.min(BLOCKS, i + 100); j++) {
          block.writeUInt32BE(j, 0)
          batch.push(Buffer.from(block))
        }
        await core.append(batch)
      }
    })()

    await Promise.all(
      readers.map(async (reader) => {
        await reader.networker.configure(discoveryKey, { announce: true, lookup: true })
        names.set(reader.networker.publicKey?.toString('hex') ?? '', reader.name)
      })
    )
    log('all four configured; waiting for the full mesh')
    await Promise.all(
      nodes.map((node) => firstValueFrom(node.networker.peers$.pipe(filter((peers) => peers.length === READERS))))
    )

    // Everyone greets everyone.
    nodes.forEach((node, i) => chats[i].broadcast({ from: node.name, text: `hello from ${node.name}` }))

    await appending
    log(`writer appended ${BLOCKS} blocks of ${BLOCK_SIZE} bytes`)

    const downloadStart = Date.now()
    const verified = await Promise.all(
      readers.map(async (reader) => {
        const clone = reader.store.get({ key: core.key as Buffer })
        await clone.ready()
        await clone.update({ wait: true })
        await clone.download({ start: 0, end: BLOCKS }).done()
        let ok = 0
        for (let i = 0; i < BLOCKS; i++) {
          const block = await clone.get(i)
          if (block !== null && block.readUInt32BE(0) === i && block.byteLength === BLOCK_SIZE) ok++
        }
        log(`${reader.name} verified ${ok}/${BLOCKS} blocks`)
        return ok
      })
    )
    const seconds = (Date.now() - downloadStart) / 1000

    // Wait for every greeting (4 nodes × 3 peers).
    const expected = nodes.length * READERS
    await firstValueFrom(
      combineLatest(nodes.map((n) => n.networker.peers$)).pipe(
        map(() => delivered),
        filter((n) => n >= expected)
      )
    ).catch(() => undefined)
    const deadline = Date.now() + 5000
    while (delivered < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))

    const mib = (READERS * BLOCKS * BLOCK_SIZE) / (1024 * 1024)
    console.log('\nSummary')
    readers.forEach((reader, i) => console.log(`  ${reader.name}: ${verified[i]}/${BLOCKS} blocks verified`))
    console.log(`  chat messages delivered: ${delivered}/${expected}`)
    console.log(`  replicated ${mib.toFixed(1)} MiB to ${READERS} readers in ${seconds.toFixed(2)} s`)
    console.log(`  total time ${((Date.now() - started) / 1000).toFixed(2)} s`)
    if (verified.some((n) => n !== BLOCKS) || delivered < expected) process.exitCode = 1
  } finally {
    subscriptions.unsubscribe()
    await Promise.all(nodes.map((n) => n.networker.close()))
    await Promise.all(nodes.map((n) => n.store.close()))
    await net.destroy()
    for (const node of nodes) fs.rmSync(node.dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
