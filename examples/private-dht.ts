/**
 * A private HyperDHT for networkers that must not use the public one: a few persistent DHT nodes
 * on one machine that every host can reach. Networkers join it with `{ bootstrap }`
 * (docs/scaling.md).
 *
 *   npx ts-node --transpile-only examples/private-dht.ts --host 10.0.0.5 --port 49737 --nodes 3
 *   # → bootstrap: 10.0.0.5:49737   (Ctrl-C stops)
 *
 * `--host` is the IPv4 address the other hosts reach this machine at. The bootstrap node binds
 * every interface; the others too, unless the host is 127.0.0.1 (all on one machine).
 */
import HyperDHT from 'hyperdht'
import { parseArgs } from 'util'
import { firstValueFrom, fromEvent, merge } from 'rxjs'

const USAGE = `Usage: npx ts-node --transpile-only examples/private-dht.ts --host <ip> [--port 49737] [--nodes 3]`

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string', default: '49737' },
      nodes: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  const port = Number(values.port)
  const size = Number(values.nodes)
  if (values.help || values.host === undefined || !Number.isInteger(port) || !Number.isInteger(size) || size < 2) {
    console.log(`${USAGE}\n\nAt least two nodes: the bootstrap node and one that stores announcements.`)
    process.exitCode = values.help ? 0 : 2
    return
  }
  const host = values.host
  const bind = host === '127.0.0.1' ? '127.0.0.1' : '0.0.0.0'

  // The bootstrap node, as `npx hyperdht --bootstrap --host <ip> --port <port>` starts it: it
  // binds every interface and knows `host:port` is its address. (`bootstrapper` is missing from
  // our ambient types of hyperdht, hence the cast.)
  const { bootstrapper } = HyperDHT as unknown as { bootstrapper(port: number, host: string): HyperDHT }
  const first = bootstrapper.call(HyperDHT, port, host)
  await first.fullyBootstrapped()
  const bootstrap = [{ host, port }]
  const nodes = [first]
  // More nodes, persistent (not ephemeral) and reachable (not firewalled): the DHT stores
  // announcements on them. A bootstrap node alone is not enough for peers to find each other.
  while (nodes.length < size) {
    const node = new HyperDHT({ host: bind, ephemeral: false, firewalled: false, bootstrap })
    await node.fullyBootstrapped()
    nodes.push(node)
  }
  console.log(`private HyperDHT of ${size} nodes up`)
  console.log(`bootstrap: ${host}:${port}`)

  await firstValueFrom(merge(fromEvent(process, 'SIGINT'), fromEvent(process, 'SIGTERM')))
  await Promise.all(nodes.map((node) => node.destroy()))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
