import b4a from 'b4a'

/**
 * Where metrics meet Corestore and Hypercore: the cores open in the store, what each knows of its
 * peers, and what replication moves.
 *
 * Corestore 7 and Hypercore 11 have no public "every open core" or "bytes replicated" API; this
 * module is the one place of lib/metrics that reads their internals, as Holepunch's own
 * `hypercore-stats` does: the store's core tracker (`store.cores`, iterable, "callable from the
 * outside") and `store.watch(fn)` (called with each core the store opens), each core's `state`,
 * `header.hints` and replicator `peers`. Blocks are counted by a monitor on the core
 * (`core.addMonitor`), the list Hypercore calls with `'download'`/`'upload'` (index, bytes, peer)
 * for every block it receives or serves, which changes nothing in what the core does. Every read
 * is guarded: a store of another shape gives no cores, and nothing is counted.
 */

/** What Hypercore 11's replicator peer exposes of the remote (`core.peers` lists them). */
export interface ReplicationPeerLike {
  readonly remotePublicKey?: Uint8Array | null
  /** The length the remote announced (0 until its first sync message). */
  readonly remoteLength?: number
  /** Every block below this is held by the remote. */
  readonly remoteContiguousLength?: number
  /** False until the remote's first sync message arrived. */
  readonly remoteSynced?: boolean
}

/** A monitor, as Hypercore 11 calls its monitors (sessions, normally). */
interface Monitor {
  _monitorIndex: number
  readonly padding: number
  readonly extensions: Map<string, unknown>
  emit(name: string, ...args: unknown[]): boolean
}

/** The members of Hypercore 11's internal core read here. */
interface InternalCore {
  readonly key?: Uint8Array | null
  readonly discoveryKey?: Uint8Array | null
  readonly closing?: unknown
  readonly opened?: boolean
  readonly state?: { readonly length?: number; readonly byteLength?: number } | null
  readonly header?: { readonly hints?: { readonly contiguousLength?: number } } | null
  readonly replicator?: { readonly peers?: readonly ReplicationPeerLike[] }
  addMonitor?(monitor: Monitor): void
  removeMonitor?(monitor: Monitor): void
}

interface StoreInternals {
  readonly cores?: Iterable<InternalCore>
  watch?(fn: (core: InternalCore) => void): void
  unwatch?(fn: (core: InternalCore) => void): void
}

/** Blocks and bytes moved, cumulative. */
export interface BlockCounts {
  blocksDown: number
  blocksUp: number
  bytesDown: number
  bytesUp: number
}

/** One open core as metrics read it. */
export interface CoreReading {
  readonly key: string
  readonly discoveryKey: string
  readonly length: number
  readonly contiguousLength: number
  readonly byteLength: number
  readonly peers: readonly ReplicationPeerLike[]
  /** What replication moved for it while observed, or null if nothing was counted. */
  readonly counts: Readonly<BlockCounts> | null
}

/** Called for every block replicated with a peer: `down` received from it, else served to it. */
export type OnBlock = (remotePublicKey: Uint8Array, down: boolean, bytes: number) => void

export function zeroCounts(): BlockCounts {
  return { blocksDown: 0, blocksUp: 0, bytesDown: 0, bytesUp: 0 }
}

/** Adds one block of `bytes` to `counts`: received (`down`) or served. */
export function addBlock(counts: BlockCounts, down: boolean, bytes: number): void {
  if (down) {
    counts.blocksDown++
    counts.bytesDown += bytes
  } else {
    counts.blocksUp++
    counts.bytesUp += bytes
  }
}

/**
 * Counts the blocks every core of the store replicates, while started: a monitor on each open
 * core and on each core the store opens meanwhile. `stop()` takes every monitor and the store
 * watcher off again (nothing is left on any core); the counts are kept.
 */
export class ReplicationMeter {
  private readonly store: StoreInternals
  private readonly monitors = new Map<InternalCore, Monitor>()
  /** Counts by discovery key (hex). */
  private readonly counts = new Map<string, BlockCounts>()
  /** Each core's keys in hex, made once: a core's key and discovery key never change once open. */
  private readonly names = new WeakMap<InternalCore, { readonly key: string; readonly discoveryKey: string }>()
  private started = false
  private readonly onCore = (core: InternalCore): void => this.monitor(core)

  constructor(
    store: unknown,
    private readonly onblock: OnBlock
  ) {
    this.store = (store ?? {}) as StoreInternals
  }

  start(): void {
    if (this.started) return
    this.started = true
    for (const core of openCores(this.store)) this.monitor(core)
    if (typeof this.store.watch === 'function') this.store.watch(this.onCore)
  }

  stop(): void {
    if (!this.started) return
    this.started = false
    if (typeof this.store.unwatch === 'function') this.store.unwatch(this.onCore)
    for (const [core, monitor] of this.monitors) core.removeMonitor?.(monitor)
    this.monitors.clear()
  }

  /** Every open core of the store (opened, not closing), read now; counts of closed cores are let go. */
  read(): CoreReading[] {
    const readings: CoreReading[] = []
    const open = new Set<string>()
    for (const core of openCores(this.store)) {
      if (core.opened !== true || !(core.key instanceof Uint8Array) || !(core.discoveryKey instanceof Uint8Array)) continue
      let names = this.names.get(core)
      if (names === undefined) {
        names = { key: b4a.toString(core.key, 'hex'), discoveryKey: b4a.toString(core.discoveryKey, 'hex') }
        this.names.set(core, names)
      }
      const { key, discoveryKey } = names
      open.add(discoveryKey)
      const length = core.state?.length ?? 0
      const peers = core.replicator?.peers
      readings.push({
        key,
        discoveryKey,
        length,
        contiguousLength: Math.min(length, core.header?.hints?.contiguousLength ?? 0),
        byteLength: core.state?.byteLength ?? 0,
        peers: Array.isArray(peers) ? peers : [],
        counts: this.counts.get(discoveryKey) ?? null
      })
    }
    for (const key of this.counts.keys()) if (!open.has(key)) this.counts.delete(key)
    for (const core of this.monitors.keys()) {
      if (core.closing) {
        core.removeMonitor?.(this.monitors.get(core) as Monitor)
        this.monitors.delete(core)
      }
    }
    return readings
  }

  private monitor(core: InternalCore): void {
    if (this.monitors.has(core) || typeof core.addMonitor !== 'function' || typeof core.removeMonitor !== 'function') return
    const count = (down: boolean, bytes: unknown, from: unknown): void => {
      const discoveryKey = core.discoveryKey
      if (!(discoveryKey instanceof Uint8Array) || typeof bytes !== 'number') return
      const id = b4a.toString(discoveryKey, 'hex')
      let counts = this.counts.get(id)
      if (counts === undefined) this.counts.set(id, (counts = zeroCounts()))
      addBlock(counts, down, bytes)
      const remote = (from as ReplicationPeerLike | null)?.remotePublicKey
      if (remote instanceof Uint8Array) this.onblock(remote, down, bytes)
    }
    const monitor: Monitor = {
      _monitorIndex: -1,
      // Hypercore reports a block's bytes minus its session's padding: none here (stored size).
      padding: 0,
      extensions: new Map(),
      emit: (name, _index, bytes, from) => {
        if (name === 'download') count(true, bytes, from)
        else if (name === 'upload') count(false, bytes, from)
        return false
      }
    }
    core.addMonitor(monitor)
    this.monitors.set(core, monitor)
  }
}

function* openCores(store: StoreInternals): Iterable<InternalCore> {
  const cores = store.cores
  if (cores == null || typeof (cores as Partial<Iterable<InternalCore>>)[Symbol.iterator] !== 'function') return
  for (const core of cores) if (core && !core.closing) yield core
}
