/**
 * What `metrics$`, `metrics()` and `progress$` emit. Every value is a frozen plain object of
 * numbers, strings, booleans and `null` (no Maps, no Buffers: keys are lower-case hex), so it
 * can go through `JSON.stringify` as it is. Browser-safe: no Node types.
 *
 * Counters (`bytesIn`, `blocksDown`, …) are cumulative; `…PerSecond` fields are rates over the
 * time between the sample and the one before it (`elapsed`), measured as the `rates()` operator
 * measures them (a counter that went down counts again from zero: never negative).
 */

/** Options of `metrics$`. */
export interface MetricsOptions {
  /** Milliseconds between samples: a finite number, at least 100. Default 1000. */
  readonly interval?: number
}

/** One sample of everything the networker can measure. */
export interface NetworkerMetrics {
  /** When the sample was taken: ms on the networker's scheduler clock (`Date.now()` by default). */
  readonly at: number
  /** Milliseconds since the sample the rates are measured from; 0 in a stream's first sample (rates 0). */
  readonly elapsed: number
  /** The connected peers by remote public key (hex): at most `maxPeers` of them. */
  readonly peers: Readonly<Record<string, PeerMetrics>>
  /**
   * The cores being replicated, by discovery key (hex, as `topics$`): every core open in the
   * store that has a replication peer now, that moved blocks while metrics were observed, or whose
   * discovery key is a joined topic.
   */
  readonly cores: Readonly<Record<string, CoreMetrics>>
  readonly swarm: SwarmMetrics
  /** The DHT node's counters; null before the networker listens (there is no node yet). */
  readonly dht: DhtMetrics | null
}

/** One connected peer, for as long as it stays connected (a swap keeps it; a remove ends it). */
export interface PeerMetrics {
  /** The remote public key (hex), also the key of this entry. */
  readonly remotePublicKey: string
  /** `host:port` of the current connection. */
  readonly remoteAddress: string
  /** When the peer was added (ms, the scheduler clock). */
  readonly connectedSince: number
  /** How many times its connection was replaced (deduplicated swaps). */
  readonly swaps: number
  /**
   * Bytes received and sent on its connections since it was added, summed across swaps: the
   * Noise secret stream's `rawBytesRead`/`rawBytesWritten` (encrypted frames, everything that
   * crossed: replication, extensions, keep-alives; UDX and UDP headers and retransmissions not
   * counted, see `transport`).
   */
  readonly bytesIn: number
  readonly bytesOut: number
  readonly bytesInPerSecond: number
  readonly bytesOutPerSecond: number
  /** The UDX transport of the connection; null when the connection has none. */
  readonly transport: TransportMetrics | null
  /** Each registered extension's traffic with this peer, by extension name. */
  readonly extensions: Readonly<Record<string, ExtensionTraffic>>
  /** What Hypercore replication moved with this peer, over every core (counted while observed). */
  readonly replication: ReplicationTraffic
}

/** What UDX exposes of a connection. */
export interface TransportMetrics {
  /** Smoothed round-trip time of the current connection, ms. */
  readonly rtt: number
  /** UDX packets received and sent, summed across swaps. */
  readonly packetsIn: number
  readonly packetsOut: number
  /**
   * Packets UDX sent again, summed across swaps. UDX exposes no loss counter; this is the closest
   * figure (retransmits / packetsOut approximates the loss rate).
   */
  readonly retransmits: number
}

/** One extension's traffic with one peer (its lane, which survives swaps). */
export interface ExtensionTraffic {
  /** Messages written for the first time. */
  readonly sent: number
  /** Messages written again on a replacement connection. */
  readonly resent: number
  /** Messages received from the peer (duplicates of a swapped connection not counted). */
  readonly received: number
  /** Messages accepted for this peer but not delivered (see `ExtensionStats.dropped`). */
  readonly dropped: number
  /** Accepted messages waiting beyond the credit window, not written yet. */
  readonly queued: number
  /** Messages written and not yet acknowledged. */
  readonly inFlight: number
}

/** Blocks and bytes (block payloads) Hypercore replication moved with one peer. */
export interface ReplicationTraffic {
  readonly blocksDown: number
  readonly blocksUp: number
  readonly bytesDown: number
  readonly bytesUp: number
  readonly bytesDownPerSecond: number
  readonly bytesUpPerSecond: number
}

/** The replication progress of one core (what `progress$` emits). */
export interface CoreProgress {
  /** The core's length as this side knows it. */
  readonly length: number
  /** Every block below this is held here. */
  readonly contiguousLength: number
  /** The highest length any connected peer announced (0 without peers). */
  readonly remoteLength: number
  /** Connected peers replicating this core. */
  readonly peers: number
  /**
   * 0..1: `contiguousLength` over the longest run of blocks from 0 that a connected peer holds
   * (its `remoteContiguousLength`); 1 when there is nothing to fetch. Blocks a peer holds past
   * its own contiguous run are not counted.
   */
  readonly progress: number
  /**
   * True exactly when this side holds everything its connected peers have: every peer has told
   * its length, none is longer than this core, and this core holds every block below the longest
   * contiguous run a peer holds. With no peer connected it is true (nothing to fetch): check
   * `peers` to tell "alone" from "done".
   */
  readonly synced: boolean
}

/** One core being replicated: its progress, and what replication moved (counted while observed). */
export interface CoreMetrics extends CoreProgress {
  /**
   * The core's public key (hex). It is the core's read capability: strip it before sending
   * metrics to anyone who should not read the core.
   */
  readonly key: string
  readonly discoveryKey: string
  /** Bytes of the core's `length` blocks, as stored. */
  readonly byteLength: number
  readonly blocksDown: number
  readonly blocksUp: number
  readonly bytesDown: number
  readonly bytesUp: number
  readonly blocksDownPerSecond: number
  readonly blocksUpPerSecond: number
  readonly bytesDownPerSecond: number
  readonly bytesUpPerSecond: number
  /**
   * Seconds until `contiguousLength` reaches what the peers hold, at the current block rate;
   * null when nothing is downloading or it is synced.
   */
  readonly etaSeconds: number | null
}

/** The swarm's connections, cumulative counters from the networker's start. */
export interface SwarmMetrics {
  /** Connected peers (one per remote key). */
  readonly peers: number
  /** Open connections, duplicates Hyperswarm has not resolved yet included. */
  readonly connections: number
  /** Connections being opened, pending admission included. */
  readonly connecting: number
  /** Peers found and waiting for a dial slot. */
  readonly queued: number
  /** Connections this side dialled. */
  readonly attempted: number
  /** Connections opened, dialled and accepted. */
  readonly opened: number
  /** Connections closed, dialled and accepted. */
  readonly closed: number
  /** Connections dropped because the remote did not answer within the handshake budget. */
  readonly handshakeTimeouts: number
  /** Connections refused as they opened because `maxPeers` slots were all held. */
  readonly refusedOverMaxPeers: number
  /** Deduplicated connection swaps (a peer moved to a replacement connection). */
  readonly swaps: number
}

/** What HyperDHT counts (the figures `hyperdht-stats` reads). */
export interface DhtMetrics {
  /** Whether the node thinks it is behind a firewall. */
  readonly firewalled: boolean
  /** Nodes in its routing table. */
  readonly nodes: number
  readonly queries: { readonly active: number; readonly total: number }
  readonly punches: { readonly consistent: number; readonly random: number; readonly open: number }
}
