import Hyperswarm from 'hyperswarm'
import type HyperDHT from 'hyperdht'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import b4a from 'b4a'
import { BehaviorSubject, Observable, Subject } from 'rxjs'
import type { DhtMetrics, SwarmMetrics } from './metrics/types'
import type { ConnectionEvent, SwarmProgress } from '../operators/types'
import type { DhtNodeLike, KeyPairLike } from './stack-types'
import { DEFAULT_MAX_PEERS, dialLimitFor } from './budgets'

const ERR_DUPLICATE = 'Duplicate connection'

/** Hyperswarm internals read (never written) for progress snapshots; all optional. */
interface SwarmInternals {
  _queue?: { length: number }
  _withinMaxPeers?: () => boolean
  _clientConnections?: number
  maxClientConnections?: number
}

/** Hyperswarm and HyperDHT counters read (never written) for metrics; all optional. */
interface StatsInternals {
  stats?: {
    connects?: {
      client?: { attempted?: number; opened?: number; closed?: number }
      server?: { opened?: number; closed?: number }
    }
  }
  dht?: {
    firewalled?: boolean
    nodes?: { length?: number }
    stats?: {
      queries?: { active?: number; total?: number }
      punches?: { consistent?: number; random?: number; open?: number }
    }
  }
}

/** What the swarm and its DHT node count, read at one instant (the swarm's part of a metrics sample). */
export interface SwarmCounters extends Pick<SwarmMetrics, 'connections' | 'connecting' | 'queued' | 'attempted' | 'opened' | 'closed'> {
  readonly dht: DhtMetrics | null
}

/** Hyperswarm options the networker passes through. */
export interface SwarmSourceOptions {
  readonly keyPair: KeyPairLike
  readonly dht?: DhtNodeLike
  readonly bootstrap?: Array<string | { host: string; port: number }>
  readonly maxPeers?: number
  readonly maxClientConnections?: number
  readonly maxServerConnections?: number
  readonly maxParallel?: number
  /** Return `true` to refuse a remote key before connecting. */
  readonly firewall: (remotePublicKey: Buffer, payload: unknown) => boolean
  /** A connection failed (not Hyperswarm's duplicate resolution or a remote reset). */
  readonly onerror: (err: Error, conn: NoiseSecretStream) => void
  /** Connections opened but not yet admitted (authentication); they count as connecting. */
  readonly pending?: () => number
}

/** One topic's discovery (Hyperswarm's `PeerDiscoverySession`). */
export interface DiscoverySession {
  refresh(opts: { server: boolean; client: boolean }): Promise<void>
  flushed(): Promise<void>
}

/**
 * The only module that touches Hyperswarm: it creates the swarm, listens, joins and leaves
 * topics, reports raw connections and dialling progress, and destroys it all.
 */
export interface SwarmSource {
  /**
   * The Hyperswarm itself, only for the legacy facade's `swarm` member (old callers read it);
   * the rest of lib/ goes through the commands below.
   */
  readonly swarm: Hyperswarm
  /** Our Noise public key. */
  readonly publicKey: Buffer
  /** Hot; every connection's open, then its close. Completes on `destroy()`. */
  readonly connections$: Observable<ConnectionEvent<NoiseSecretStream>>
  /** Hot with replay of the current snapshot (a `BehaviorSubject`). Completes on `destroy()`. */
  readonly progress$: Observable<SwarmProgress>
  listen(): Promise<void>
  join(topic: Buffer, opts: { server: boolean; client: boolean }): DiscoverySession
  leave(topic: Buffer): Promise<void>
  /**
   * Reads Hyperswarm's progress again and emits it on `progress$` if it changed (Hyperswarm
   * queues found peers without an `'update'`).
   */
  update(): void
  /** Hyperswarm's and its DHT node's counters now (read-only). */
  counters(): SwarmCounters
  /** The topics Hyperswarm knows a remote key by (from its lookups). */
  topicsOf(remotePublicKey: Uint8Array): readonly Buffer[]
  /** How many peers Hyperswarm knows through a topic (connected or not), banned ones excepted. */
  foundFor(topic: Buffer): number
  /** How many live connections go to peers found through the topic. */
  connectedFor(topic: Buffer): number
  /**
   * Refuses a remote key for the swarm's life (Hyperswarm's ban): never dialled again, and its
   * connections are refused. For a peer that failed authentication.
   */
  ban(remotePublicKey: Uint8Array): void
  /**
   * Refuses a remote key for `ms` (Hyperswarm's ban, lifted afterwards): not dialled, its
   * connections refused, and not counted as found meanwhile. For a remote that refused our dial
   * (full): the next lookup after that may dial it again.
   */
  backOff(remotePublicKey: Uint8Array, ms: number): void
  /**
   * Destroys every connection (remote peers see us leave at once) and waits for their close,
   * destroys the swarm and its DHT node, and completes both streams.
   */
  destroy(): Promise<void>
}

/**
 * Creates the swarm. Every connection gets an `'error'` listener before anything else, so a
 * remote reset can never crash the process.
 */
export function createSwarmSource(opts: SwarmSourceOptions): SwarmSource {
  const { keyPair, firewall, onerror, pending = () => 0 } = opts
  const swarmOptions: Hyperswarm.SwarmOptions = { keyPair: keyPair as HyperDHT.KeyPair, firewall }
  for (const name of ['dht', 'bootstrap', 'maxPeers', 'maxClientConnections', 'maxServerConnections', 'maxParallel'] as const) {
    if (opts[name] !== undefined) Object.assign(swarmOptions, { [name]: opts[name] })
  }
  const swarm = new Hyperswarm(swarmOptions)
  const connections = new Subject<ConnectionEvent<NoiseSecretStream>>()
  const internals = swarm as unknown as SwarmInternals

  const read = (): SwarmProgress => {
    const withinMax = internals._withinMaxPeers ? internals._withinMaxPeers() : true
    const clientRoom =
      internals._clientConnections === undefined || internals.maxClientConnections === undefined
        ? true
        : internals._clientConnections < internals.maxClientConnections
    return {
      connecting: swarm.connecting + pending(),
      queued: internals._queue ? internals._queue.length : 0,
      saturated: !(withinMax && clientRoom)
    }
  }
  const progress = new BehaviorSubject<SwarmProgress>(read())

  const onconnection = (conn: NoiseSecretStream): void => {
    conn.on('error', (err: Error & { code?: string }) => {
      // A duplicate resolved, or the remote closing its side: routine, the peer set says it all.
      if (!err || err.message === ERR_DUPLICATE || err.code === 'ECONNRESET') return
      onerror(err, conn)
    })
    conn.once('close', () => connections.next({ type: 'close', connection: conn }))
    connections.next({ type: 'open', connection: conn })
  }
  // A swarm that knows more peers than it has slots is a partial mesh: from then on it dials at
  // most half its slots and keeps the rest for peers that dial it, so newcomers always find
  // room somewhere and the topic stays one graph (filling every slot by dialling closed the
  // first `maxPeers + 1` nodes into a group no later node could join). Not with an explicit
  // `maxClientConnections`, and never for a swarm that fits (a full mesh keeps dialling all).
  const slots = opts.maxPeers ?? DEFAULT_MAX_PEERS
  let partial = false
  const adaptDialLimit = (): void => {
    if (partial || opts.maxClientConnections !== undefined || swarm.peers.size <= slots) return
    partial = true
    internals.maxClientConnections = dialLimitFor(slots)
  }
  const update = (): void => {
    adaptDialLimit()
    if (progress.closed) return
    const next = read()
    const last = progress.getValue()
    if (next.connecting !== last.connecting || next.queued !== last.queued || next.saturated !== last.saturated) {
      progress.next(next)
    }
  }
  const counters = (): SwarmCounters => {
    const { stats, dht } = swarm as unknown as StatsInternals
    const client = stats?.connects?.client
    const server = stats?.connects?.server
    const { connecting, queued } = read()
    return {
      connections: swarm.connections.size,
      connecting,
      queued,
      attempted: client?.attempted ?? 0,
      opened: (client?.opened ?? 0) + (server?.opened ?? 0),
      closed: (client?.closed ?? 0) + (server?.closed ?? 0),
      dht:
        dht === undefined
          ? null
          : {
              firewalled: dht.firewalled === true,
              nodes: dht.nodes?.length ?? 0,
              queries: { active: dht.stats?.queries?.active ?? 0, total: dht.stats?.queries?.total ?? 0 },
              punches: {
                consistent: dht.stats?.punches?.consistent ?? 0,
                random: dht.stats?.punches?.random ?? 0,
                open: dht.stats?.punches?.open ?? 0
              }
            }
    }
  }
  const topicsOf = (remotePublicKey: Uint8Array): readonly Buffer[] =>
    swarm.peers.get(b4a.toString(remotePublicKey, 'hex'))?.topics ?? []

  swarm.on('connection', onconnection)
  swarm.on('update', update)

  const backoffs = new Set<ReturnType<typeof setTimeout>>()
  const backOff = (remotePublicKey: Uint8Array, ms: number): void => {
    const info = swarm.peers.get(b4a.toString(remotePublicKey, 'hex'))
    if (info === undefined || info.banned) return
    info.ban(true)
    const timer = setTimeout(() => {
      backoffs.delete(timer)
      info.ban(false)
    }, ms)
    timer.unref()
    backoffs.add(timer)
  }

  let destroying: Promise<void> | null = null
  const destroy = async (): Promise<void> => {
    for (const timer of backoffs) clearTimeout(timer)
    backoffs.clear()
    const closes: Promise<void>[] = []
    for (const conn of swarm.connections) {
      closes.push(new Promise<void>((resolve) => (conn.destroyed ? resolve() : conn.once('close', () => resolve()))))
      conn.destroy()
    }
    await Promise.all(closes)
    try {
      await swarm.destroy()
    } finally {
      // A handshake that was under way while the others closed.
      for (const conn of swarm.connections) conn.destroy()
      swarm.removeListener('connection', onconnection)
      swarm.removeListener('update', update)
      connections.complete()
      progress.complete()
    }
  }

  return {
    swarm,
    publicKey: swarm.keyPair.publicKey,
    connections$: connections.asObservable(),
    progress$: progress.asObservable(),
    listen: () => swarm.listen(),
    join: (topic, options) => swarm.join(topic, options),
    leave: (topic) => swarm.leave(topic),
    update,
    counters,
    topicsOf,
    foundFor: (topic) => {
      let count = 0
      for (const info of swarm.peers.values()) {
        if (!info.banned && info.topics.some((t) => b4a.equals(t, topic))) count++
      }
      return count
    },
    connectedFor: (topic) => {
      const keys = new Set<string>()
      for (const conn of swarm.connections) {
        if (!conn.destroyed && topicsOf(conn.remotePublicKey).some((t) => b4a.equals(t, topic))) {
          keys.add(b4a.toString(conn.remotePublicKey, 'hex'))
        }
      }
      return keys.size
    },
    ban: (remotePublicKey) => swarm.peers.get(b4a.toString(remotePublicKey, 'hex'))?.ban(true),
    backOff,
    destroy: () => (destroying ??= destroy())
  }
}
