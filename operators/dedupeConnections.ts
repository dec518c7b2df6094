import { Observable, OperatorFunction, SchedulerLike, Subscription, asyncScheduler } from 'rxjs'
import b4a from 'b4a'
import type { ConnectionEvent, ConnectionLike, DedupeEvent } from './types'

/** Options of {@link dedupeConnections}. */
export interface DedupeConnectionsConfig {
  /**
   * How long (ms) a closed connection's peer is kept waiting for a replacement before it is
   * removed. Hyperswarm emits the replacement of a duplicate a few ms after closing the loser.
   * Default 500. `0` removes at once.
   */
  graceTime?: number
  /** Where the grace timers run. Default `asyncScheduler`. */
  scheduler?: SchedulerLike
}

interface KeyState<C> {
  current: C
  /** The grace timer while `current` is closed and a replacement may still come. */
  pending: Subscription | null
}

/**
 * Turns raw connection open/close events into one peer per remote key, hiding Hyperswarm's
 * duplicate-connection flicker.
 *
 * 1. The first `open` for a remote key emits `add`.
 * 2. A `close` of a key's current connection starts a grace timer on the scheduler; an `open`
 *    for the same key before it fires emits `swap` (same peer, new connection), otherwise the
 *    timer emits `remove`.
 * 3. An `open` while the key's current connection is still open keeps one of the two by
 *    Hyperswarm 4's own rule, so both ends agree: the newcomer wins when the current connection
 *    is established (it has read and written bytes: the remote must have lost it and be
 *    reconnecting), or when the newcomer's `isInitiator` equals `publicKey > remotePublicKey`;
 *    otherwise the current one stays. Hyperswarm itself hands over a replacement only after
 *    closing the loser, which rule 2 covers.
 *    A winning newcomer emits `swap` then `drop` for the old one; a losing newcomer emits `drop`.
 *    Closes of dropped or replaced connections are ignored.
 * 4. When the source completes, peers waiting in their grace time are removed at once, then the
 *    output completes. Errors pass through, and an event that cannot be handled (a malformed
 *    one) is the output's error. Unsubscribing or an error cancels every timer.
 *
 * ## Example
 *
 * ```ts
 * import { Subject } from 'rxjs'
 * import { dedupeConnections, type ConnectionEvent, type ConnectionLike } from '@basestore/networker/operators'
 *
 * const key = (byte: number) => new Uint8Array(32).fill(byte)
 * const c1: ConnectionLike = { publicKey: key(1), remotePublicKey: key(0xab), isInitiator: true }
 * const c2: ConnectionLike = { publicKey: key(1), remotePublicKey: key(0xab), isInitiator: false }
 * const raw = new Subject<ConnectionEvent>()
 * raw.pipe(dedupeConnections({ graceTime: 100 })).subscribe(e => console.log(e.type, e.key.slice(0, 6)))
 * raw.next({ type: 'open', connection: c1 })   // c1 and c2 both reach remote key ababab…
 * raw.next({ type: 'close', connection: c1 })  // Hyperswarm closed c1 as a duplicate
 * raw.next({ type: 'open', connection: c2 })   // … and hands over c2 a few ms later
 * // Logs:
 * // add ababab
 * // swap ababab
 * ```
 *
 * @param config Grace time and scheduler.
 * @return A function from raw connection events to deduplicated peer events.
 */
export function dedupeConnections<C extends ConnectionLike>(
  config: DedupeConnectionsConfig = {}
): OperatorFunction<ConnectionEvent<C>, DedupeEvent<C>> {
  const { graceTime = 500, scheduler = asyncScheduler } = config

  return (source) =>
    new Observable<DedupeEvent<C>>((subscriber) => {
      const byKey = new Map<string, KeyState<C>>()

      const remove = (key: string, state: KeyState<C>): void => {
        byKey.delete(key)
        state.pending = null
        subscriber.next({ type: 'remove', key, connection: state.current })
      }

      const onOpen = (connection: C): void => {
        const key = b4a.toString(connection.remotePublicKey, 'hex')
        const state = byKey.get(key)
        if (state === undefined) {
          byKey.set(key, { current: connection, pending: null })
          subscriber.next({ type: 'add', key, connection })
          return
        }
        const previous = state.current
        if (previous === connection) return
        if (state.pending !== null) {
          state.pending.unsubscribe()
          state.pending = null
          state.current = connection
          subscriber.next({ type: 'swap', key, connection, previous })
          return
        }
        if (prefers(connection, previous)) {
          state.current = connection
          subscriber.next({ type: 'swap', key, connection, previous })
          subscriber.next({ type: 'drop', key, connection: previous })
        } else {
          subscriber.next({ type: 'drop', key, connection })
        }
      }

      const onClose = (connection: C): void => {
        const key = b4a.toString(connection.remotePublicKey, 'hex')
        const state = byKey.get(key)
        if (state === undefined || state.current !== connection || state.pending !== null) return
        if (graceTime <= 0) {
          remove(key, state)
          return
        }
        state.pending = scheduler.schedule(() => remove(key, state), graceTime)
      }

      const cancelTimers = (): void => {
        for (const state of byKey.values()) state.pending?.unsubscribe()
      }

      const fail = (err: unknown): void => {
        cancelTimers()
        subscriber.error(err)
      }

      const subscription = source.subscribe({
        next: (event) => {
          // Route a throw to the subscriber, as RxJS's own operators do, not to the global handler.
          try {
            if (event.type === 'open') onOpen(event.connection)
            else onClose(event.connection)
          } catch (err) {
            fail(err)
          }
        },
        error: fail,
        complete: () => {
          for (const [key, state] of [...byKey]) {
            if (state.pending === null) continue
            state.pending.unsubscribe()
            remove(key, state)
          }
          subscriber.complete()
        }
      })

      return () => {
        subscription.unsubscribe()
        cancelTimers()
        byKey.clear()
      }
    })
}

/**
 * True when `candidate` should replace `existing`: Hyperswarm 4's rule
 * (`_handleServerConnection`): keep the new one if the existing one is outdated (it has read and
 * written bytes) or if the new one was dialled by the side with the larger key.
 *
 * Exported for the benchmark's hand-written baseline (bench/operators.ts), which must break
 * ties the same way; not part of the package (the barrel does not export it).
 */
export function prefers(candidate: ConnectionLike, existing: ConnectionLike): boolean {
  const existingIsOutdated = (existing.rawBytesRead ?? 0) > 0 && (existing.rawBytesWritten ?? 0) > 0
  const expectedInitiator = b4a.compare(candidate.publicKey, candidate.remotePublicKey) > 0
  return existingIsOutdated || candidate.isInitiator === expectedInitiator
}
