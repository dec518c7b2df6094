import b4a from 'b4a'
import {
  EMPTY,
  Observable,
  SchedulerLike,
  Subscription,
  defer,
  filter,
  finalize,
  first,
  ignoreElements,
  skipWhile,
  takeUntil,
  takeWhile,
  timer
} from 'rxjs'
import type { TopicState } from '../operators/types'

/**
 * Where discovery meets Hypercore: for a discovery key that belongs to a core open in the store,
 * tell the core that peers are being looked for (so `update()`/`get()` wait for the first
 * discovery), and see which remote keys have opened the core's replication session (so
 * `core.peers` holds them).
 *
 * Corestore 7 has no public "core by discovery key": this module is the one place that reads its
 * core tracker (`store.cores.get(hex)`, documented there as callable from outside) and the
 * core's replicator (`findingPeers`, documented as "updatable from the outside", and `peers`,
 * what every session's `core.peers` returns). Every read is guarded: a store of another shape
 * simply gets the plain behaviour (no waiting).
 */

/** The members of Hypercore 11's replicator read here. */
interface ReplicatorLike {
  findingPeers: number
  readonly peers: ReadonlyArray<{ readonly remotePublicKey?: Uint8Array | null }>
  queueUpdateAll?: () => void
}

interface OpenCoreLike {
  readonly closing?: unknown
  readonly replicator?: ReplicatorLike
}

interface StoreWithCores {
  readonly cores?: { get?: (id: string) => OpenCoreLike | null | undefined }
}

/** The replicator of the core with this discovery key, if one is open in the store (else null). */
function replicatorOf(store: unknown, discoveryKey: Uint8Array): ReplicatorLike | null {
  const cores = (store as StoreWithCores | null)?.cores
  if (!cores || typeof cores.get !== 'function') return null
  let core: OpenCoreLike | null | undefined
  try {
    core = cores.get(b4a.toString(discoveryKey, 'hex'))
  } catch {
    return null
  }
  if (!core || core.closing || !core.replicator) return null
  const replicator = core.replicator
  if (typeof replicator.findingPeers !== 'number' || !Array.isArray(replicator.peers)) return null
  return replicator
}

/**
 * Marks the core of `discoveryKey` (if open in the store) as finding peers, the way
 * `core.findingPeers()` does: until the returned function is called, `core.update()` and
 * `core.get()` without peers wait instead of answering at once. Calling the function twice is
 * harmless; a store without that core gets a no-op.
 */
export function findingPeersFor(store: unknown, discoveryKey: Uint8Array): () => void {
  const replicator = replicatorOf(store, discoveryKey)
  if (replicator === null) return () => {}
  replicator.findingPeers++
  let done = false
  return () => {
    if (done) return
    done = true
    if (--replicator.findingPeers === 0 && typeof replicator.queueUpdateAll === 'function') {
      replicator.queueUpdateAll()
    }
  }
}

/**
 * Whether every one of `remoteKeys` has opened the replication session of the core of
 * `discoveryKey`, so that `core.peers` lists it. True when no such core is open in the store
 * (nothing to wait for).
 */
export function replicationOpened(store: unknown, discoveryKey: Uint8Array, remoteKeys: readonly Uint8Array[]): boolean {
  const replicator = replicatorOf(store, discoveryKey)
  if (replicator === null) return true
  return remoteKeys.every((key) =>
    replicator.peers.some((peer) => peer.remotePublicKey != null && b4a.equals(peer.remotePublicKey, key))
  )
}

/** How often (ms) `replicationSettled` looks at the core's peers. */
const REPLICATION_POLL_MS = 10

/**
 * Completes once every remote key `found()` returns has opened the replication session of the
 * core of `discoveryKey` (at once when no such core is open in the store), or after `bound` ms.
 */
export function replicationSettled(
  store: unknown,
  discoveryKey: Uint8Array,
  found: () => readonly Uint8Array[],
  bound: number,
  scheduler: SchedulerLike
): Observable<never> {
  const opened = (): boolean => replicationOpened(store, discoveryKey, found())
  return defer(() =>
    opened() || bound === 0
      ? EMPTY
      : timer(REPLICATION_POLL_MS, REPLICATION_POLL_MS, scheduler).pipe(
          takeWhile(() => !opened()),
          ignoreElements(),
          takeUntil(timer(bound, scheduler))
        )
  )
}

/**
 * Ties a lookup to Hypercore's `findingPeers()`: while the topic's first discovery runs,
 * `update()`/`get()` on the core of that discovery key wait for it instead of answering "no
 * peers". Released once `states$` shows the configuration joined and then flushed or left, when
 * `states$` ends, or when the returned subscription is unsubscribed.
 */
export function trackFindingPeers(store: unknown, discoveryKey: Uint8Array, states$: Observable<TopicState>): Subscription {
  // No core of that key open: nothing to tell, nothing to watch.
  if (replicatorOf(store, discoveryKey) === null) return Subscription.EMPTY
  const done = findingPeersFor(store, discoveryKey)
  return states$
    .pipe(
      // The state before this configuration took effect does not count.
      skipWhile((state) => !state.joined),
      filter((state) => state.flushed || !state.joined),
      first(),
      finalize(done)
    )
    .subscribe({ error: () => {} })
}
