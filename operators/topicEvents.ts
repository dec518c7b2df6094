import { OperatorFunction, mergeMap, pairwise, startWith } from 'rxjs'
import type { TopicState } from './types'

/** A topic's transition, as `topicEvents` reports it. */
export interface TopicEvent {
  readonly type: 'joined' | 'flushed' | 'left'
  readonly discoveryKey: Uint8Array
}

/**
 * Turns successive `topics$` maps into the transitions between them, for code that wants events
 * (the legacy facade's `'joined'` and `'flushed'`) rather than states.
 *
 * 1. A key that is joined now and was not before (or was absent) emits `joined`.
 * 2. A key that is flushed now and was not before emits `flushed` (after its `joined`, when both
 *    happen in one step). A refresh that clears and sets `flushed` again emits it again.
 * 3. A key that was joined and is now absent or not joined emits `left`.
 * 4. The first map is compared with the empty map. Events of one map come in its key order.
 * 5. Completion and errors pass through; a malformed map is the output's error. Each
 *    subscription compares from its own first map.
 *
 * ## Example
 *
 * ```ts
 * import { of } from 'rxjs'
 * import { topicEvents, type TopicState } from '@basestore/networker/operators'
 *
 * const key = new Uint8Array(32)
 * const state = (joined: boolean, flushed: boolean): TopicState =>
 *   ({ discoveryKey: key, announce: joined, lookup: joined, joined, flushed })
 * of(new Map([['00', state(true, false)]]), new Map([['00', state(true, true)]]), new Map<string, TopicState>())
 *   .pipe(topicEvents())
 *   .subscribe((e) => console.log(e.type))
 * // Logs:
 * // joined
 * // flushed
 * // left
 * ```
 *
 * @return A function from topic maps to topic transitions.
 */
export function topicEvents(): OperatorFunction<ReadonlyMap<string, TopicState>, TopicEvent> {
  const none: ReadonlyMap<string, TopicState> = new Map()
  return (source) => source.pipe(startWith(none), pairwise(), mergeMap(([before, after]) => transitions(before, after)))
}

function transitions(before: ReadonlyMap<string, TopicState>, after: ReadonlyMap<string, TopicState>): TopicEvent[] {
  const events: TopicEvent[] = []
  for (const [hex, state] of after) {
    const previous = before.get(hex)
    if (state.joined && !previous?.joined) events.push({ type: 'joined', discoveryKey: state.discoveryKey })
    if (state.flushed && !previous?.flushed) events.push({ type: 'flushed', discoveryKey: state.discoveryKey })
    if (!state.joined && previous?.joined) events.push({ type: 'left', discoveryKey: state.discoveryKey })
  }
  for (const [hex, previous] of before) {
    if (previous.joined && !after.has(hex)) events.push({ type: 'left', discoveryKey: previous.discoveryKey })
  }
  return events
}
