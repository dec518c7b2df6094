import {
  EMPTY,
  Observable,
  SchedulerLike,
  defer,
  distinctUntilChanged,
  filter,
  map,
  merge,
  share,
  startWith,
  switchMap,
  takeUntil,
  takeWhile,
  throttleTime,
  timer
} from 'rxjs'
import { PROGRESS_SYNC_WAIT_MS } from '../budgets'
import type { HypercoreLike } from '../stack-types'
import type { ReplicationPeerLike } from './cores'
import type { CoreProgress } from './types'

/** `progress$` emits at most one value per this many ms (the first at once, the last at the end). */
export const PROGRESS_THROTTLE_MS = 100

/** How often (ms) `progress$` looks again while a peer has not sent its first sync (see `PROGRESS_SYNC_WAIT_MS`). */
export const PROGRESS_SYNC_CHECK_MS = 50

/** The Hypercore events after which a core's progress may have changed. */
const CHANGES = ['ready', 'append', 'truncate', 'download', 'upload', 'peer-add', 'peer-remove', 'remote-contiguous-length']

/** A core's progress and, for an ETA, how far its contiguous run has to go (`target`). */
export interface Assessment extends CoreProgress {
  /** The longest run of blocks from 0 a connected peer holds. */
  readonly target: number
}

/**
 * The progress of a core of `length` holding every block below `contiguousLength`, given its
 * replication peers (see `CoreProgress` for the rules).
 */
export function assess(length: number, contiguousLength: number, peers: readonly ReplicationPeerLike[]): Assessment {
  let remoteLength = 0
  let target = 0
  let known = true
  for (const peer of peers) {
    // Until its first sync message a peer's lengths read 0: what it holds is unknown.
    if (peer.remoteSynced === false) known = false
    remoteLength = Math.max(remoteLength, peer.remoteLength ?? 0)
    target = Math.max(target, peer.remoteContiguousLength ?? 0)
  }
  const synced = known && length >= remoteLength && contiguousLength >= target
  const progress = target === 0 ? (known || contiguousLength > 0 ? 1 : 0) : Math.min(1, contiguousLength / target)
  return { length, contiguousLength, remoteLength, peers: peers.length, progress, synced, target }
}

/** `assess` without `target`, frozen: what `progress$` emits. */
function progressOf(core: HypercoreLike): CoreProgress {
  const { length, contiguousLength, remoteLength, peers, progress, synced } = assess(
    core.length,
    core.contiguousLength,
    core.peers as readonly ReplicationPeerLike[]
  )
  return Object.freeze({ length, contiguousLength, remoteLength, peers, progress, synced })
}

function sameProgress(a: CoreProgress, b: CoreProgress): boolean {
  return (
    a.length === b.length &&
    a.contiguousLength === b.contiguousLength &&
    a.remoteLength === b.remoteLength &&
    a.peers === b.peers &&
    a.progress === b.progress &&
    a.synced === b.synced
  )
}

/** Whether `value` has what `progress$` reads of a Hypercore session. */
export function isHypercore(value: unknown): value is HypercoreLike {
  if (value === null || typeof value !== 'object') return false
  const core = value as Partial<Record<keyof HypercoreLike, unknown>>
  return (
    typeof core.length === 'number' &&
    typeof core.contiguousLength === 'number' &&
    Array.isArray(core.peers) &&
    typeof core.on === 'function' &&
    typeof core.removeListener === 'function'
  )
}

function hasUnknownPeer(core: HypercoreLike): boolean {
  return (core.peers as readonly ReplicationPeerLike[]).some((peer) => peer.remoteSynced === false)
}

/** The names of the events of `core`, from subscribe to unsubscribe (listeners removed then). */
function eventsOf(core: HypercoreLike, names: readonly string[]): Observable<string> {
  return new Observable<string>((subscriber) => {
    const listeners = names.map((name) => {
      const listener = (): void => subscriber.next(name)
      core.on(name, listener)
      return { name, listener }
    })
    return () => {
      for (const { name, listener } of listeners) core.removeListener(name, listener)
    }
  })
}

/**
 * One core's replication progress: the current value on subscribe, then a new value after the
 * Hypercore events that change it (throttled on `scheduler`: the first at once, then at most one
 * per `PROGRESS_THROTTLE_MS`, the last state always emitted), only when it changed. Completes
 * when the core closes (at once if it already is). Each value is read when it is emitted, so the
 * emission that shows the last block also shows `synced`.
 */
export function coreProgress$(core: HypercoreLike, scheduler: SchedulerLike): Observable<CoreProgress> {
  return defer(() => {
    if (core.closed) return EMPTY
    const events$ = eventsOf(core, [...CHANGES, 'close']).pipe(share())
    const changes$ = events$.pipe(filter((name) => name !== 'close'))
    // Hypercore says nothing when a new peer's first sync arrives: look again until it did.
    const synced$ = changes$.pipe(
      filter((name) => name === 'peer-add'),
      startWith('subscribe'),
      switchMap(() =>
        hasUnknownPeer(core)
          ? timer(PROGRESS_SYNC_CHECK_MS, PROGRESS_SYNC_CHECK_MS, scheduler).pipe(
              takeWhile(() => hasUnknownPeer(core), true),
              takeUntil(timer(PROGRESS_SYNC_WAIT_MS, scheduler))
            )
          : EMPTY
      )
    )
    return merge(changes$, synced$).pipe(
      throttleTime(PROGRESS_THROTTLE_MS, scheduler, { leading: true, trailing: true }),
      map(() => progressOf(core)),
      startWith(progressOf(core)),
      distinctUntilChanged(sameProgress),
      takeUntil(events$.pipe(filter((name) => name === 'close')))
    )
  })
}
