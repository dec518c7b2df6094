import { Observable, SchedulerAction, SchedulerLike, Subscription } from 'rxjs'
import { RunHelpers, TestScheduler } from 'rxjs/testing'

/** Shared by the operator specs: marble plumbing only, no assertions. */

/** What `expectSubscriptions` takes, without importing `rxjs/internal`. */
export type SubscriptionLogs = Parameters<RunHelpers['expectSubscriptions']>[0]

/** A `TestScheduler` that compares with `toEqual`, as every operator spec does. */
export function createTestScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected)
  })
}

/**
 * Wraps a source that is not a marble observable (e.g. a synchronous `of(...)`) so that its
 * subscriptions are logged in virtual frames, like `cold(...).subscriptions`.
 */
export function recordSubscriptions<T>(
  source: Observable<T>,
  scheduler: SchedulerLike
): { readonly observable: Observable<T>; readonly subscriptions: SubscriptionLogs } {
  const subscriptions: SubscriptionLogs = []
  const observable = new Observable<T>((subscriber) => {
    const log = { subscribedFrame: scheduler.now(), unsubscribedFrame: Infinity }
    subscriptions.push(log)
    const inner = source.subscribe(subscriber)
    return () => {
      inner.unsubscribe()
      log.unsubscribedFrame = scheduler.now()
    }
  })
  return { observable, subscriptions }
}

/**
 * Runs work on another scheduler (the `TestScheduler`) and records every timer asked of it, and
 * the frames at which timers fired, so a spec can prove a timer was cancelled.
 */
export class RecordingScheduler implements SchedulerLike {
  readonly timers: Subscription[] = []
  readonly firedAt: number[] = []

  constructor(private readonly inner: SchedulerLike) {}

  now(): number {
    return this.inner.now()
  }

  schedule<T>(work: (this: SchedulerAction<T>, state: T) => void, delay: number, state: T): Subscription
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay: number, state?: T): Subscription
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    const firedAt = this.firedAt
    const now = (): number => this.inner.now()
    const timer = this.inner.schedule(
      function (this: SchedulerAction<T>, s?: T): void {
        firedAt.push(now())
        work.call(this, s)
      },
      delay,
      state
    )
    this.timers.push(timer)
    return timer
  }
}
