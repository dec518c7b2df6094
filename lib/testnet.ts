/// <reference path="../types/index.d.ts" preserve="true" />
// With the extension: hyperdht has no exports map, and ESM resolution does not add one.
import createTestnet from 'hyperdht/testnet.js'
import HyperDHT from 'hyperdht'
import type { DhtNodeLike } from './stack-types'

/** Options of {@link createLocalNetwork}. */
export interface LocalNetworkOptions {
  /** How many DHT nodes make the network (the first is the bootstrap node). Default 3. */
  size?: number
  /** Loopback host to bind to. Default `127.0.0.1`. */
  host?: string
}

/** A HyperDHT on this machine's loopback interface. */
export interface LocalNetwork {
  /** The bootstrap list of the local network, for `new HyperDHT({ bootstrap })`. */
  readonly bootstrap: ReadonlyArray<{ readonly host: string; readonly port: number }>
  /**
   * Options that put a networker (or a plain Hyperswarm) on this network, on loopback: a fresh
   * DHT node bound to the host, not firewalled (see `loopbackNode`). Call it once per
   * networker; the swarm destroys its node.
   */
  swarmOptions(): { dht: DhtNodeLike }
  /** Stops every node of the network. Memoized. */
  destroy(): Promise<void>
}

/**
 * Starts a HyperDHT bootstrap network bound to loopback, for tests, the demo and local
 * development. Nothing leaves the machine.
 *
 * ```ts
 * import Corestore from 'corestore'
 * import { ReactiveNetworker } from '@basestore/networker'
 * import { createLocalNetwork } from '@basestore/networker/testnet'
 *
 * const store = new Corestore('./storage')
 * const net = await createLocalNetwork()
 * const networker = new ReactiveNetworker(store, net.swarmOptions())
 * // …
 * await networker.close()
 * await net.destroy()
 * ```
 */
export async function createLocalNetwork(opts: LocalNetworkOptions = {}): Promise<LocalNetwork> {
  const { size = 3, host = '127.0.0.1' } = opts
  const testnet = await createTestnet(size, { host })
  const bootstrap = Object.freeze(testnet.bootstrap.map(({ host, port }) => Object.freeze({ host, port })))
  let destroying: Promise<void> | null = null
  return {
    bootstrap,
    swarmOptions: () => ({ dht: loopbackNode(bootstrap, host) }),
    destroy: () => (destroying ??= testnet.destroy())
  }
}

/**
 * A HyperDHT node for one networker on a local network, bound to `host` and not firewalled:
 * nothing stands between two processes on loopback (or hosts on one bridge). A node that
 * assumes a firewall connects through HyperDHT's holepunch path, and between two processes on
 * loopback that path opened connections only one side saw, which carried no data.
 */
export function loopbackNode(
  bootstrap: ReadonlyArray<{ readonly host: string; readonly port: number }>,
  host = '127.0.0.1'
): DhtNodeLike {
  return new HyperDHT({
    bootstrap: bootstrap.map(({ host: h, port }) => ({ host: h, port })),
    host,
    ephemeral: true,
    firewalled: false
  })
}
