import {
  Observable,
  OperatorFunction,
  connect,
  distinctUntilChanged,
  endWith,
  filter,
  ignoreElements,
  map,
  of,
  switchMap,
  take,
  takeUntil
} from 'rxjs'
import type { DiscoverySignal, SwarmProgress } from './types'

/**
 * Decides when one topic is flushed: its discovery finished and every peer it found has
 * connected or failed.
 *
 * 1. `start` and `stop` emit `false` (unless the last value was already `false`) and stop waiting.
 * 2. `discovered` subscribes to `progress$` and emits `true` at the first snapshot with nothing
 *    dialling and nothing queued (or a saturated swarm, which dials no more), then unsubscribes
 *    from `progress$`. `progress$` should hand a new subscriber the current snapshot first (a
 *    `BehaviorSubject`), so a swarm that is already idle flushes at once.
 * 3. Only changes are emitted: the output is distinct.
 * 4. Completion of the signals completes the output; an error from either input, or thrown
 *    while handling a signal (a malformed one), is passed on as the output's error.
 *    Unsubscribing releases `progress$`.
 *
 * ## Example
 *
 * ```ts
 * import { BehaviorSubject, Subject } from 'rxjs'
 * import { detectFlush, type DiscoverySignal } from '@basestore/networker/operators'
 *
 * const progress$ = new BehaviorSubject({ connecting: 1, queued: 0, saturated: false })
 * const signals$ = new Subject<DiscoverySignal>()
 * signals$.pipe(detectFlush(progress$)).subscribe(flushed => console.log(flushed))
 * signals$.next({ type: 'start' })
 * signals$.next({ type: 'discovered' })
 * progress$.next({ connecting: 0, queued: 0, saturated: false })
 * // Logs:
 * // false
 * // true
 * ```
 *
 * @param progress$ Snapshots of the swarm's dialling work.
 * @return A function from a topic's discovery signals to its `flushed` flag.
 */
export function detectFlush(progress$: Observable<SwarmProgress>): OperatorFunction<DiscoverySignal, boolean> {
  // Waits for the first idle (or saturated) snapshot, then lets go of progress$.
  const idle$ = progress$.pipe(
    filter(isIdle),
    take(1),
    map(() => true)
  )
  return (source) =>
    source.pipe(
      connect((signals) =>
        signals.pipe(
          switchMap(({ type }) => (type === 'discovered' ? idle$ : of(false))),
          distinctUntilChanged(),
          // Rule 4: the output ends with the signals, even while a wait is pending.
          takeUntil(signals.pipe(ignoreElements(), endWith(true)))
        )
      )
    )
}

/**
 * Rule 2's test: nothing dialling and nothing queued, or a saturated swarm (which dials no more).
 * Exported for code that detects the flush of many topics on one shared `progress$`.
 */
export function isIdle({ connecting, queued, saturated }: SwarmProgress): boolean {
  return saturated || (connecting === 0 && queued === 0)
}
