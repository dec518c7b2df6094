/**
 * Waiting in tests and benchmarks: a pause, a polled condition, the first matching value of a
 * stream. Each wait has a deadline and says what it waited for when it runs out.
 */
import { Observable, filter, firstValueFrom, timeout } from 'rxjs'

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Polls `check` every `every` ms until it holds; rejects after `ms` with "timed out waiting for
 * `what`" (a function is asked at that moment, so the message can show the state then).
 */
export async function until(check: () => boolean, ms = 20_000, what: string | (() => string) = 'condition', every = 20): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`)
    await sleep(every)
  }
}

/** Resolves with the first value of `source` that passes `predicate`, or rejects after `ms`. */
export function waitFor<T>(source: Observable<T>, predicate: (value: T) => boolean, ms = 20_000): Promise<T> {
  return firstValueFrom(source.pipe(filter(predicate), timeout(ms)))
}
