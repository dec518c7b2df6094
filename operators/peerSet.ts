import { OperatorFunction, distinctUntilChanged, identity, scan, skip, startWith } from 'rxjs'
import type { PeerEvent } from './types'

/** Options of {@link peerSet}. */
export interface PeerSetConfig {
  /** Emit the empty set as soon as the output is subscribed. Default `true`. */
  emitInitial?: boolean
}

/**
 * Folds peer add/remove events into the current set of peers, as a frozen array in the order
 * peers arrived.
 *
 * 1. Members are compared by identity: one object per peer.
 * 2. `add` of a new member and `remove` of a member each emit a new array; `swap`, a second
 *    `add` of a member and `remove` of a stranger emit nothing (the membership did not change).
 * 3. With `emitInitial` (the default) the empty array is emitted on subscribe.
 * 4. Completion and errors pass through; an error thrown while folding an event (a malformed
 *    one) is the output's error. Each subscription has its own set.
 *
 * ## Example
 *
 * ```ts
 * import { of } from 'rxjs'
 * import { peerSet, type PeerEvent } from '@basestore/networker/operators'
 *
 * const a = { name: 'a' }
 * const b = { name: 'b' }
 * of<PeerEvent<{ name: string }>[]>({ type: 'add', peer: a }, { type: 'add', peer: b }, { type: 'remove', peer: a })
 *   .pipe(peerSet())
 *   .subscribe(peers => console.log(peers.map(p => p.name).join(',')))
 * // Logs:
 * //
 * // a
 * // a,b
 * // b
 * ```
 *
 * @param config Whether to emit the empty set first.
 * @return A function from peer events to peer sets.
 */
export function peerSet<P>(config: PeerSetConfig = {}): OperatorFunction<PeerEvent<P>, readonly P[]> {
  const { emitInitial = true } = config
  const none: readonly P[] = Object.freeze([])
  return (source) =>
    source.pipe(
      scan(fold<P>, none),
      startWith(none),
      // A fold that changed nothing returns the same array: only changes pass.
      distinctUntilChanged(),
      emitInitial ? identity : skip(1)
    )
}

function fold<P>(members: readonly P[], { type, peer }: PeerEvent<P>): readonly P[] {
  if (type === 'add') return members.includes(peer) ? members : Object.freeze([...members, peer])
  if (type === 'remove' && members.includes(peer)) return Object.freeze(members.filter((m) => m !== peer))
  return members
}
