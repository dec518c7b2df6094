// The Holepunch stats modules the `/prometheus` entry is built on (untyped packages). Private to
// the build, as the other declarations here: public types never mention them.
declare module 'hyperswarm-stats' {
  /** Reads a Hyperswarm's counters (and its DHT's through hyperdht-stats). */
  class HyperswarmStats {
    constructor(swarm: unknown)
    /** Creates its gauges with `new promClient.Gauge({ name, help, collect })`. */
    registerPrometheusMetrics(promClient: { Gauge: unknown }): void
  }
  export = HyperswarmStats
}

declare module 'hypercore-stats' {
  import { EventEmitter } from 'events'
  /** Totals across the Hypercores added to it (weak sessions). */
  class HypercoreStats extends EventEmitter {
    constructor(opts?: { cacheExpiryMs?: number })
    addCore(weakSession: unknown): void
    bustCache(): void
    registerPrometheusMetrics(promClient: { Gauge: unknown }): void
  }
  export = HypercoreStats
}

declare module 'passive-core-watcher' {
  import { EventEmitter } from 'events'
  /** Opens a weak session on every core the store opens (what `HypercoreStats.fromCorestore` uses). */
  class PassiveCoreWatcher extends EventEmitter {
    constructor(store: unknown, opts: { watch: (core: unknown) => boolean | Promise<boolean>; open: (session: unknown) => unknown })
    destroy(): void
  }
  export = PassiveCoreWatcher
}
