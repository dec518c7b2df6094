/**
 * One test host: run inside a network namespace by partition.hosts.test.ts. Talks JSON lines:
 * events on stdout, commands on stdin.
 *
 *   host-process.ts bootstrap <address>
 *   host-process.ts writer <address> <bootstrapHost:port> <storageDir>
 *   host-process.ts reader <address> <bootstrapHost:port> <storageDir> <coreKeyHex>
 */
import b4a from 'b4a'
import Corestore from 'corestore'
import HyperDHT from 'hyperdht'
import readline from 'readline'
import { createLocalNetwork } from '../../lib/testnet'
import { ReactiveNetworker } from '../../lib/reactive-networker'
import type { Peer } from '../../lib/peer'
import { noiseOf } from '../helpers'

const [role, address, bootstrapArg, dir, keyHex] = process.argv.slice(2)
const say = (event: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify(event) + '\n')
}

async function main(): Promise<void> {
  if (role === 'bootstrap') {
    const net = await createLocalNetwork({ size: 2, host: address })
    say({ event: 'bootstrap', host: address, port: net.bootstrap[0].port })
    readline.createInterface({ input: process.stdin }).on('close', () => {
      void net.destroy().then(() => process.exit(0))
    })
    return
  }

  const [host, port] = bootstrapArg.split(':')
  const store = new Corestore(dir)
  const networker = new ReactiveNetworker(store, {
    // Hosts on one bridge reach each other directly: not firewalled (HyperDHT's holepunch path
    // for firewalled nodes opens connections that never carry data between namespaces).
    dht: new HyperDHT({ bootstrap: [{ host, port: Number(port) }], host: address, ephemeral: true, firewalled: false }),
    timeout: Number(process.env.HOST_TIMEOUT ?? 2000),
    relookupBackoff: [500, 1000, 2000]
  })
  let current: readonly Peer[] = []
  networker.peers$.subscribe((peers) => {
    current = peers
    say({ event: 'peers', keys: peers.map((p) => b4a.toString(p.remotePublicKey, 'hex')) })
  })
  // Diagnostics: the time-out and keep-alive armed on each peer's current connection.
  setInterval(() => {
    say({ event: 'timeouts', peers: current.map((p) => [b4a.toString(p.remotePublicKey, 'hex').slice(0, 8), noiseOf(p).timeout, noiseOf(p).keepAlive]) })
  }, 1000).unref()
  networker.errors$.subscribe((err) => say({ event: 'neterror', code: err.code, message: err.message }))
  networker.peerEvents$.subscribe(({ type, peer }) => {
    const remote = b4a.toString(peer.remotePublicKey, 'hex').slice(0, 8)
    say({ event: 'peer-' + type, remote, at: Date.now() % 100000 })
    if (type === 'remove') return
    // Diagnostics: how each admitted connection ends.
    const stream = noiseOf(peer)
    const opened = Date.now()
    stream.once('close', () => {
      say({ event: 'conn-close', remote, initiator: stream.isInitiator, lived: Date.now() - opened, timeout: stream.timeout, at: Date.now() % 100000 })
    })
    stream.on('error', (err: Error) => say({ event: 'conn-error', remote, message: err.message, at: Date.now() % 100000 }))
  })

  const core = role === 'writer' ? store.get({ name: 'hosts' }) : store.get({ key: Buffer.from(keyHex, 'hex') })
  await core.ready()
  if (role === 'reader') core.download({ start: 0, end: -1 })
  await networker.configure(core.discoveryKey as Buffer, { announce: true, lookup: true })
  say({ event: 'ready', publicKey: networker.publicKey?.toString('hex'), key: (core.key as Buffer).toString('hex') })

  const commands = readline.createInterface({ input: process.stdin })
  commands.on('line', (line) => {
    const command = JSON.parse(line) as { cmd: string; from?: number; count?: number }
    void (async () => {
      if (command.cmd === 'append') {
        const blocks = Array.from({ length: command.count ?? 0 }, (_, i) => Buffer.from(`block ${(command.from ?? 0) + i}`))
        await core.append(blocks)
        say({ event: 'appended', length: core.length })
      } else if (command.cmd === 'verify') {
        const count = command.count ?? 0
        let ok = 0
        for (let i = 0; i < count; i++) {
          const block = await core.get(i, { timeout: 15_000 })
          if (block !== null && block.toString() === `block ${i}`) ok++
        }
        say({ event: 'verified', ok, count, length: core.length })
      }
    })().catch((err: unknown) => say({ event: 'error', message: String(err) }))
  })
  commands.on('close', () => {
    void (async () => {
      await networker.close()
      await store.close()
      process.exit(0)
    })()
  })
}

main().catch((err: unknown) => {
  say({ event: 'error', message: String(err) })
  process.exit(1)
})
