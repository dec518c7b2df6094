import { counterDelta } from '../../operators/rates'
import type { PeerExtensionTraffic } from '../extensions'
import type { Peer } from '../peer'
import type { SwarmCounters } from '../swarm-source'
import type { BlockCounts, CoreReading, ReplicationMeter } from './cores'
import type { PeerTallies } from './peers'
import { assess, type Assessment } from './progress'
import type { CoreMetrics, DhtMetrics, ExtensionTraffic, NetworkerMetrics, PeerMetrics, SwarmMetrics } from './types'

/** What a sample reads: each part through what its owner exposes. */
export interface SampleSources {
  readonly now: () => number
  readonly tallies: PeerTallies
  readonly meter: ReplicationMeter
  readonly extensions: { trafficWith(peer: Peer): readonly PeerExtensionTraffic[] }
  readonly connections: { readonly handshakeTimeouts: number; readonly refusedOverMaxPeers: number }
  /** The swarm's counters, or null before the networker has a swarm. */
  readonly swarm: () => SwarmCounters | null
  /** The discovery keys (hex) of the joined topics. */
  readonly joinedTopics: () => ReadonlySet<string>
}

/**
 * Reads everything once, at one instant, into a frozen sample; rates are measured from
 * `previous` (0 without one) as the `rates()` operator measures them.
 */
export function takeSample(sources: SampleSources, previous: NetworkerMetrics | null): NetworkerMetrics {
  const at = sources.now()
  const elapsed = previous === null ? 0 : Math.max(0, at - previous.at)
  const seconds = elapsed / 1000
  const rate = (before: number | undefined, now: number): number => (seconds > 0 ? counterDelta(before, now) / seconds : 0)

  const peers: Record<string, PeerMetrics> = {}
  for (const tally of sources.tallies.values()) {
    const before = previous?.peers[tally.key]
    const totals = tally.totals()
    const udx = tally.transport
    const replication = tally.replication
    peers[tally.key] = Object.freeze({
      remotePublicKey: tally.key,
      remoteAddress: tally.peer.remoteAddress,
      connectedSince: tally.connectedSince,
      swaps: tally.swaps,
      bytesIn: totals.bytesIn,
      bytesOut: totals.bytesOut,
      bytesInPerSecond: rate(before?.bytesIn, totals.bytesIn),
      bytesOutPerSecond: rate(before?.bytesOut, totals.bytesOut),
      transport:
        udx === null
          ? null
          : Object.freeze({ rtt: udx.rtt ?? 0, packetsIn: totals.packetsIn, packetsOut: totals.packetsOut, retransmits: totals.retransmits }),
      extensions: extensionsOf(sources.extensions.trafficWith(tally.peer)),
      replication: Object.freeze({
        blocksDown: replication.blocksDown,
        blocksUp: replication.blocksUp,
        bytesDown: replication.bytesDown,
        bytesUp: replication.bytesUp,
        bytesDownPerSecond: rate(before?.replication.bytesDown, replication.bytesDown),
        bytesUpPerSecond: rate(before?.replication.bytesUp, replication.bytesUp)
      })
    })
  }

  const cores: Record<string, CoreMetrics> = {}
  const joined = sources.joinedTopics()
  for (const core of sources.meter.read()) {
    if (core.peers.length === 0 && core.counts === null && !joined.has(core.discoveryKey)) continue
    const before = previous?.cores[core.discoveryKey]
    const counts = core.counts ?? { blocksDown: 0, blocksUp: 0, bytesDown: 0, bytesUp: 0 }
    const progress = assess(core.length, core.contiguousLength, core.peers)
    if (before !== undefined && idleSince(before, core, counts, progress)) {
      // Nothing moved since a sample that saw nothing move either: the same frozen value (most
      // cores of a large store, most of the time; it keeps a tick's cost and garbage small).
      cores[core.discoveryKey] = before
      continue
    }
    const blocksDownPerSecond = rate(before?.blocksDown, counts.blocksDown)
    const remaining = progress.target - core.contiguousLength
    cores[core.discoveryKey] = Object.freeze({
      key: core.key,
      discoveryKey: core.discoveryKey,
      length: core.length,
      contiguousLength: core.contiguousLength,
      byteLength: core.byteLength,
      remoteLength: progress.remoteLength,
      peers: progress.peers,
      progress: progress.progress,
      synced: progress.synced,
      blocksDown: counts.blocksDown,
      blocksUp: counts.blocksUp,
      bytesDown: counts.bytesDown,
      bytesUp: counts.bytesUp,
      blocksDownPerSecond,
      blocksUpPerSecond: rate(before?.blocksUp, counts.blocksUp),
      bytesDownPerSecond: rate(before?.bytesDown, counts.bytesDown),
      bytesUpPerSecond: rate(before?.bytesUp, counts.bytesUp),
      etaSeconds: !progress.synced && remaining > 0 && blocksDownPerSecond > 0 ? remaining / blocksDownPerSecond : null
    })
  }

  const counters = sources.swarm()
  const swarm: SwarmMetrics = Object.freeze({
    peers: Object.keys(peers).length,
    connections: counters?.connections ?? 0,
    connecting: counters?.connecting ?? 0,
    queued: counters?.queued ?? 0,
    attempted: counters?.attempted ?? 0,
    opened: counters?.opened ?? 0,
    closed: counters?.closed ?? 0,
    handshakeTimeouts: sources.connections.handshakeTimeouts,
    refusedOverMaxPeers: sources.connections.refusedOverMaxPeers,
    swaps: sources.tallies.swaps
  })
  const dht = counters?.dht ?? null
  return Object.freeze({
    at,
    elapsed,
    peers: Object.freeze(peers),
    cores: Object.freeze(cores),
    swarm,
    dht: dht === null ? null : freezeDht(dht)
  })
}

/**
 * Whether a core's figures equal those of `before`, and `before` had every rate at 0: its value
 * now would be `before` again (unchanged counters give rates of 0, and no ETA without a rate).
 */
function idleSince(before: CoreMetrics, core: CoreReading, counts: Readonly<BlockCounts>, progress: Assessment): boolean {
  return (
    before.blocksDownPerSecond === 0 &&
    before.blocksUpPerSecond === 0 &&
    before.bytesDownPerSecond === 0 &&
    before.bytesUpPerSecond === 0 &&
    before.length === core.length &&
    before.contiguousLength === core.contiguousLength &&
    before.byteLength === core.byteLength &&
    before.blocksDown === counts.blocksDown &&
    before.blocksUp === counts.blocksUp &&
    before.bytesDown === counts.bytesDown &&
    before.bytesUp === counts.bytesUp &&
    before.remoteLength === progress.remoteLength &&
    before.peers === progress.peers &&
    before.progress === progress.progress &&
    before.synced === progress.synced
  )
}

function extensionsOf(traffic: readonly PeerExtensionTraffic[]): Readonly<Record<string, ExtensionTraffic>> {
  const byName: Record<string, ExtensionTraffic> = {}
  for (const { name, sent, resent, received, dropped, queued, inFlight } of traffic) {
    // An own property whatever the name ('__proto__' included).
    Object.defineProperty(byName, name, {
      value: Object.freeze({ sent, resent, received, dropped, queued, inFlight }),
      enumerable: true
    })
  }
  return Object.freeze(byName)
}

function freezeDht(dht: DhtMetrics): DhtMetrics {
  return Object.freeze({
    firewalled: dht.firewalled,
    nodes: dht.nodes,
    queries: Object.freeze({ active: dht.queries.active, total: dht.queries.total }),
    punches: Object.freeze({ consistent: dht.punches.consistent, random: dht.punches.random, open: dht.punches.open })
  })
}
