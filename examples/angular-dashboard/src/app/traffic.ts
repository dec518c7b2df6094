import type { RemoteNetworkerMetrics } from '@basestore/networker/remote'

/** Samples the throughput chart keeps (two minutes at the default 1 s interval). */
export const TRAFFIC_WINDOW = 120

/** One peer on the chart: its bytes/s in and out at each sample time, null while it was not connected. */
export interface PeerTraffic {
  /** The peer's remote public key (hex). */
  readonly key: string
  readonly in: readonly (number | null)[]
  readonly out: readonly (number | null)[]
}

/** The throughput chart's rolling window, in uPlot's column layout. */
export interface Traffic {
  /** Samples received so far (the window holds the last `TRAFFIC_WINDOW` of them). */
  readonly samples: number
  /** The sample times, in seconds (uPlot's x values). */
  readonly at: readonly number[]
  /** The peers seen within the window, in order of arrival. */
  readonly peers: readonly PeerTraffic[]
}

export const NO_TRAFFIC: Traffic = { samples: 0, at: [], peers: [] }

/**
 * The window after one more `metrics$` sample, as a `scan` reducer (pure: new arrays, the old
 * window untouched): the sample's time and each peer's rates appended, the oldest sample dropped
 * past `TRAFFIC_WINDOW`, a peer new to the window padded with null, and a peer absent for the
 * whole window removed.
 */
export function addSample(traffic: Traffic, sample: RemoteNetworkerMetrics): Traffic {
  const drop = traffic.at.length >= TRAFFIC_WINDOW ? 1 : 0
  const append = <T>(values: readonly T[], value: T): T[] => [...values.slice(drop), value]
  const absent: null[] = Array(traffic.at.length).fill(null)
  const arrived = Object.keys(sample.peers).filter((key) => !traffic.peers.some((peer) => peer.key === key))
  const peers = [...traffic.peers, ...arrived.map((key) => ({ key, in: absent, out: absent }))]
    .map(({ key, in: bytesIn, out: bytesOut }) => {
      const now = sample.peers[key]
      return {
        key,
        in: append(bytesIn, now?.bytesInPerSecond ?? null),
        out: append(bytesOut, now?.bytesOutPerSecond ?? null)
      }
    })
    .filter((peer) => peer.in.some((value) => value !== null))
  return { samples: traffic.samples + 1, at: append(traffic.at, sample.at / 1000), peers }
}
