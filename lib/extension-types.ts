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
  /** Messages written to a channel. */
  readonly sent: number
  /** Messages received (before decoding). */
  readonly received: number
  /** Messages not sent because the remote has not registered the extension. */
  readonly dropped: number
}

/**
 * A named stream-level extension: one Protomux channel per connection, beside replication.
 */
export interface Extension<T> {
  readonly name: string
  /** `'binary'`, `'utf-8'`, `'json'` or `'custom'`. */
  readonly encoding: string
  /** Hot, no replay; completes on `destroy()` or when the networker closes. */
  readonly messages$: Observable<ExtensionMessage<T>>
  /** Hot, no replay: decode failures and oversize messages of this extension. */
  readonly errors$: Observable<NetworkerError>
  readonly stats: ExtensionStats
  readonly destroyed: boolean
  /**
   * Sends to one peer. Returns whether the connection is drained (false: wait for `drained()`
   * before sending much more). A peer that has not registered the extension drops the message
   * (counted in `stats.dropped`), which is not an error.
   */
  send(message: T, peer: Peer): boolean
  /** Sends many messages to one peer as one corked batch. */
  sendMany(messages: Iterable<T>, peer: Peer): boolean
  /** Sends to every connected peer. Returns whether every connection is drained. */
  broadcast(message: T): boolean
  /** Resolves once every connection has drained its write buffer (or closed). */
  drained(): Promise<void>
  /** Closes this registration; its channels close when no other registration of the name remains. */
  destroy(): void
}
