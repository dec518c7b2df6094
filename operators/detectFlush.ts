import { Observable, OperatorFunction, Subscription } from 'rxjs'
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
 * 4. Completion of the signals completes the output; an error from either input is passed on.
 *    Unsubscribing releases `progress$`.
 *
 * ## Example
 *
 * ```ts
 * import { BehaviorSubject, Subject } from 'rxjs'
 * import { detectFlush } from '@basestore/networker/operators'
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
  return (source) =>
    new Observable<boolean>((subscriber) => {
      let last: boolean | null = null
      let waiting: Subscription | null = null

      const emit = (flushed: boolean): void => {
        if (last === flushed) return
        last = flushed
        subscriber.next(flushed)
      }
      const stopWaiting = (): void => {
        waiting?.unsubscribe()
        waiting = null
      }

      const subscription = source.subscribe({
        next: ({ type }) => {
          stopWaiting()
          if (type !== 'discovered') {
            emit(false)
            return
          }
          let done = false
          const inner = progress$.subscribe({
            next: ({ connecting, queued, saturated }) => {
              if (done || (!saturated && (connecting > 0 || queued > 0))) return
              done = true
              stopWaiting()
              emit(true)
            },
            error: (err: unknown) => subscriber.error(err)
          })
          // The snapshot may have been idle synchronously, before `inner` existed.
          if (done) inner.unsubscribe()
          else waiting = inner
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete()
      })

      return () => {
        subscription.unsubscribe()
        stopWaiting()
      }
    })
}
