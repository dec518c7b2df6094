/// <reference path="../../types/index.d.ts" preserve="true" />
/**
 * DHT nodes that assume a firewall (HyperDHT's default), on the loopback network of
 * `createLocalNetwork`. `loopbackNode` of lib/testnet.ts is the other kind: not firewalled.
 */
import HyperDHT from 'hyperdht'
import type { LocalNetwork } from '../../lib/testnet'

/** Options of a firewalled node beyond the loopback defaults. */
export interface FirewalledNodeOptions {
  /**
   * dht-rpc's congestion window: requests in flight per 750 ms tick (default 80). Only the
   * topics benchmark raises it, on both sides alike.
   */
  maxWindow?: number
}

/**
 * A DHT node on `net`, bound to loopback, that assumes a firewall: connections go through
 * HyperDHT's holepunch path, as between peers behind NATs. There Hyperswarm's duplicate
 * resolution shows (crossed connections), which the dedup tests provoke; the benchmarks give
 * it to both sides alike. Only within one process: between processes on loopback this path
 * opens one-sided connections (use `loopbackNode` of lib/testnet.ts there).
 */
export function firewalledNode(net: Pick<LocalNetwork, 'bootstrap'>, opts: FirewalledNodeOptions = {}): HyperDHT {
  const options: HyperDHT.DHTOptions & FirewalledNodeOptions = { bootstrap: [...net.bootstrap], host: '127.0.0.1', ephemeral: true }
  if (opts.maxWindow !== undefined) options.maxWindow = opts.maxWindow
  return new HyperDHT(options)
}

/** Swarm options with a {@link firewalledNode} on the harness's network. */
export function firewalledOptions(h: { readonly net: Pick<LocalNetwork, 'bootstrap'> }): { dht: HyperDHT } {
  return { dht: firewalledNode(h.net) }
}
