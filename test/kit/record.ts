/**
 * Recording what a networker or the process reports, for assertions: a networker's `errors$`,
 * and this library's process warnings.
 */
import type { Subscription } from 'rxjs'
import type { NetworkerError } from '../../lib/errors'
import type { ReactiveNetworker } from '../../lib/reactive-networker'

/** Every error `networker` reports from now on, pushed into the returned array until `subscriptions` ends. */
export function recordErrors(networker: ReactiveNetworker, subscriptions: Subscription): NetworkerError[] {
  const got: NetworkerError[] = []
  subscriptions.add(networker.errors$.subscribe((e) => got.push(e)))
  return got
}

/** A process warning of this library, as `watchWarnings` saw it. */
export interface RecordedWarning {
  message: string
  code?: string
}

/**
 * Collects this library's process warnings until `stop()`. (Jest's sandboxed `process` does not
 * see the real process's `'warning'` events, so the call itself is watched.)
 */
export function watchWarnings(): { warnings: RecordedWarning[]; stop(): void } {
  const warnings: RecordedWarning[] = []
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error, options?: unknown) => {
    const opts = typeof options === 'object' && options !== null ? (options as { type?: string; code?: string }) : {}
    if (opts.type === 'NetworkerWarning') warnings.push({ message: String(warning), code: opts.code })
  }) as typeof process.emitWarning)
  return { warnings, stop: () => spy.mockRestore() }
}
