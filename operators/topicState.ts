import { OperatorFunction, distinctUntilChanged, scan } from 'rxjs'
import type { TopicInput, TopicState } from './types'

/**
 * Folds configure requests and flush progress of one topic into its `TopicState`.
 *
 * 1. `configure` sets `announce` and `lookup`; `joined` is true when either is. Every
 *    configure starts a new discovery, so `flushed` goes back to `false`; leaving (both false)
 *    clears `joined` and `flushed`.
 * 2. `flushed` sets the flag, but a topic that is not joined is never flushed.
 * 3. The state is updated before it is emitted, and only a state that differs from the last
 *    one is emitted. The first state is emitted with the first input.
 * 4. Completion and errors pass through; an error thrown while folding an input (a malformed
 *    one) is the output's error. Each subscription starts from the initial state.
 *
 * ## Example
 *
 * ```ts
 * import { of } from 'rxjs'
 * import { topicState, type TopicInput } from '@basestore/networker/operators'
 *
 * const discoveryKey = new Uint8Array(32)
 * of<TopicInput[]>({ type: 'configure', announce: true, lookup: false }, { type: 'flushed', flushed: true })
 *   .pipe(topicState(discoveryKey))
 *   .subscribe(s => console.log(s.joined, s.flushed))
 * // Logs:
 * // true false
 * // true true
 * ```
 *
 * @param discoveryKey The topic's discovery key, copied into every state.
 * @param initial Optional starting announce/lookup/flushed (defaults to not joined); `joined` is derived.
 * @return A function from topic inputs to topic states.
 */
export function topicState(
  discoveryKey: Uint8Array,
  initial?: Partial<Pick<TopicState, 'announce' | 'lookup' | 'flushed'>>
): OperatorFunction<TopicInput, TopicState> {
  const start = initialTopicState(discoveryKey, initial)
  return (source) => source.pipe(scan(reduceTopicState, start), distinctUntilChanged(sameState))
}

/**
 * The starting state of a topic (not joined unless `initial` says otherwise): `joined` follows
 * from announce/lookup, and only a joined topic can be flushed. Frozen.
 */
export function initialTopicState(
  discoveryKey: Uint8Array,
  initial?: Partial<Pick<TopicState, 'announce' | 'lookup' | 'flushed'>>
): TopicState {
  const announce = initial?.announce ?? false
  const lookup = initial?.lookup ?? false
  const joined = announce || lookup
  return Object.freeze({ discoveryKey, announce, lookup, joined, flushed: joined && (initial?.flushed ?? false) })
}

/**
 * The pure step `topicState` folds with (rules 1 and 2): the next state of a topic after one
 * input, a new frozen object. Exported for code that keeps many topics in plain records.
 */
export function reduceTopicState(state: TopicState, input: TopicInput): TopicState {
  if (input.type === 'configure') {
    const joined = input.announce || input.lookup
    return Object.freeze({ ...state, announce: input.announce, lookup: input.lookup, joined, flushed: false })
  }
  return Object.freeze({ ...state, flushed: state.joined && input.flushed })
}

/** Field-by-field equality of two states of the same topic. */
export function sameState(a: TopicState, b: TopicState): boolean {
  return (
    a.announce === b.announce && a.lookup === b.lookup && a.joined === b.joined && a.flushed === b.flushed
  )
}
