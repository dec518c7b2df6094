/**
 * An app pipeline built on the networker's streams: raise an alert when a joined topic has had
 * no peer for a while, and clear it when a peer arrives or the topic is left.
 *
 * It only reads `topic$()` and `peers$`, so it runs against a `ReactiveNetworker` in production
 * and against `createVirtualNetworker` in marble tests (see no-peers-alert.spec.ts).
 */
import { Observable, SchedulerLike, asyncScheduler, combineLatest, distinctUntilChanged, map, of, switchMap, timer } from 'rxjs'
import type { NetworkerStreams } from '../lib/streams'

export interface NoPeersAlertOptions {
  /** ms without peers before the alert is raised. Default 5000. */
  after?: number
  scheduler?: SchedulerLike
}

/** Emits `true` when the alert goes up and `false` when it clears (starting with `false`). */
export function noPeersAlert(
  networker: NetworkerStreams,
  discoveryKey: Uint8Array | string,
  { after = 5000, scheduler = asyncScheduler }: NoPeersAlertOptions = {}
): Observable<boolean> {
  return combineLatest([
    networker.topic$(discoveryKey).pipe(map((state) => state.joined)),
    networker.peers$.pipe(map((peers) => peers.length > 0))
  ]).pipe(
    map(([joined, hasPeers]) => joined && !hasPeers),
    distinctUntilChanged(),
    switchMap((lonely) => (lonely ? timer(after, scheduler).pipe(map(() => true)) : of(false))),
    distinctUntilChanged()
  )
}
