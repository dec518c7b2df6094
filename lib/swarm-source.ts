import type Hyperswarm from 'hyperswarm'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { BehaviorSubject, Observable, Subject } from 'rxjs'
import type { ConnectionEvent, SwarmProgress } from '../operators/types'

const ERR_DUPLICATE = 'Duplicate connection'

/** Hyperswarm internals read (never written) for progress snapshots; all optional. */
interface SwarmInternals {
  _queue?: { length: number }
  _withinMaxPeers?: () => boolean
  _clientConnections?: number
  maxClientConnections?: number
}

/** The only place that listens to Hyperswarm: raw connection events and progress snapshots. */
export interface SwarmSource {
  /** Hot; every connection's open, then its close. Completes on `dispose()`. */
  readonly connections$: Observable<ConnectionEvent<NoiseSecretStream>>
  /** Hot with replay of the current snapshot (a `BehaviorSubject`). Completes on `dispose()`. */
  readonly progress$: Observable<SwarmProgress>
  /** Reads the progress now, emitting it if it changed (after a discovery, or an admission). */
  snapshot(): SwarmProgress
  /** The topics Hyperswarm knows a remote key by (from its lookups). */
  topicsOf(remotePublicKey: Buffer): readonly Buffer[]
  /** How many peers Hyperswarm has found through a topic (connected or not). */
  foundFor(topic: Buffer): number
  /** Removes the listeners and completes both streams. */
  dispose(): void
}

/**
 * Wraps a Hyperswarm. Every connection gets an `'error'` listener before anything else, so a
 * remote reset can never crash the process; errors other than Hyperswarm's own duplicate
 * resolution are reported through `onerror`.
 */
export function createSwarmSource(
  swarm: Hyperswarm,
  onerror: (err: Error, conn: NoiseSecretStream) => void,
  /** Connections opened but not yet admitted (authentication); they count as connecting. */
  pending: () => number = () => 0
): SwarmSource {
  const connections = new Subject<ConnectionEvent<NoiseSecretStream>>()
  const internals = swarm as unknown as SwarmInternals

  const snapshot = (): SwarmProgress => {
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
  const progress = new BehaviorSubject<SwarmProgress>(snapshot())

  const onconnection = (conn: NoiseSecretStream): void => {
    conn.on('error', (err: Error & { code?: string }) => {
      // A duplicate resolved, or the remote closing its side: routine, the peer set says it all.
      if (!err || err.message === ERR_DUPLICATE || err.code === 'ECONNRESET') return
      onerror(err, conn)
    })
    conn.once('close', () => connections.next({ type: 'close', connection: conn }))
    connections.next({ type: 'open', connection: conn })
  }
  const onupdate = (): void => {
    const next = snapshot()
    const last = progress.getValue()
    if (next.connecting !== last.connecting || next.queued !== last.queued || next.saturated !== last.saturated) {
      progress.next(next)
    }
  }

  swarm.on('connection', onconnection)
  swarm.on('update', onupdate)

  return {
    connections$: connections.asObservable(),
    progress$: progress.asObservable(),
    snapshot: () => {
      onupdate()
      return progress.getValue()
    },
    topicsOf: (remotePublicKey) => {
      const info = swarm.peers.get(remotePublicKey.toString('hex'))
      return info ? info.topics : []
    },
    foundFor: (topic) => {
      let count = 0
      for (const info of swarm.peers.values()) {
        if (info.topics.some((t) => t.equals(topic))) count++
      }
      return count
    },
    dispose: () => {
      swarm.removeListener('connection', onconnection)
      swarm.removeListener('update', onupdate)
      connections.complete()
      progress.complete()
    }
  }
}
