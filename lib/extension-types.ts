import type { Observable } from 'rxjs'
import type { NetworkerError } from './errors'
import type { Peer } from './peer'

/** A message received on an extension, with the peer it came from. */
export interface ExtensionMessage<T> {
  readonly message: T
  readonly peer: Peer
}

/** Counters of one extension name (shared by every registration of that name). */
export interface ExtensionStats {
  /** Messages written to a connection, each counted once. */
  readonly sent: number
  /** Messages written again on a replacement connection (at most one window per swap). */
  readonly resent: number
  /** Messages received (before decoding), duplicates of a swapped connection not counted. */
  readonly received: number
  /**
   * Messages accepted but not delivered: the remote has not registered the extension (not an
   * error), or the peer left for good / an extension was destroyed (each such loss is also
   * reported on `errors$` as `ERR_UNDELIVERED`).
   */
  readonly dropped: number
}

/**
 * A named stream-level extension: one Protomux channel per connection, beside replication,
 * with a credit window per peer (see the README, "Extension flow control").
 */
export interface Extension<T> {
  readonly name: string
  /** `'binary'`, `'utf-8'`, `'json'` or `'custom'`. */
  readonly encoding: string
  /** Hot, no replay; completes on `destroy()` or when the networker closes. */
  readonly messages$: Observable<ExtensionMessage<T>>
  /** Hot, no replay: decode failures, oversize messages and gaps of this extension. */
  readonly errors$: Observable<NetworkerError>
  readonly stats: ExtensionStats
  readonly destroyed: boolean
  /**
   * Sends to one peer. The message is always accepted (queued beyond the window, never
   * dropped); returns false once that peer's window is full: wait for `drained()`. A peer that
   * has not registered the extension drops it (counted in `stats.dropped`), which is not an error.
   */
  send(message: T, peer: Peer): boolean
  /** Sends many messages to one peer, in order, coalesced into corked batches. */
  sendMany(messages: Iterable<T>, peer: Peer): boolean
  /** Sends to every connected peer. Returns false if any peer's window is full. */
  broadcast(message: T): boolean
  /** Resolves once every peer's window of this extension has room (or the peer is gone). */
  drained(): Promise<void>
  /** Closes this registration; its channels close when no other registration of the name remains. */
  destroy(): void
}
