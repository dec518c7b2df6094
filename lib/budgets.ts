/**
 * Every budget that bounds what a remote peer (or a remote-server client) can make this process
 * hold, wait for or allocate, stated in one place and read by the rooms that enforce them.
 * docs/SECURITY.md names each one and the test that tries to exceed it.
 */

/**
 * The highest sequence number an extension lane accepts off the wire (2^52). A `RESUME` or a
 * message numbered above it is a protocol violation: the numbers a lane computes from it (its
 * acknowledgement, the next sequence) stay exact integers, and at a million messages a second
 * an honest lane needs 142 years to get there.
 */
export const MAX_WIRE_SEQ = 2 ** 52

/**
 * Remote-server commands (`serveNetworker(…, { commands: true })`): messages one client may have
 * waiting behind a full extension window, that is its `send` commands answered `full: true` and
 * not yet drained (over all published extensions). One more is refused with `ERR_BACKPRESSURE`
 * and nothing is queued; the client waits with `drained(name)`. Option `maxWaitingSends`.
 */
export const REMOTE_MAX_WAITING_SENDS = 256

/**
 * The bytes of those waiting messages (the size of the client's `send` frames), so that what a
 * client can make the server hold is bounded whatever its messages' size. A single message
 * larger than this is still accepted when the client has nothing waiting. Option
 * `maxWaitingSendBytes`.
 */
export const REMOTE_MAX_WAITING_SEND_BYTES = 1024 * 1024

/**
 * The handshake budget when neither `handshakeTimeout` nor `timeout` is set (ms): a connection
 * whose remote has not answered the keep-alive channel (opened or rejected it) this long after
 * it opened is destroyed and never becomes a peer. An honest remote answers within a round trip;
 * a half-open connection or a mute peer never does, and until it is dropped it holds a slot of
 * `maxPeers` and (if we dialled it, or found its remote) counts as dialling. It is also the
 * longest that connections waiting for an answer hold a topic's flush in a row, so no remote can
 * make a flushing `configure()` wait longer. Time this process itself was stalled is not
 * counted. Option `handshakeTimeout`; not reported on `errors$` (routine on a public DHT), counted
 * in `Connections.handshakeTimeouts`.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 5000

/** With `timeout` set and no `handshakeTimeout`, the handshake budget is this many `timeout`s. */
export const HANDSHAKE_BUDGET_FACTOR = 2

/**
 * Hyperswarm's own default `maxPeers`, which we also apply inbound. Connections still pending
 * admission (keep-alive channel not answered yet, or `onauthenticate` deciding) count against it
 * by distinct remote key, beside the peers: a connection that would exceed it is destroyed as it
 * opens, unless its remote key already is a peer or pending (a replacement of a connection).
 */
export const DEFAULT_MAX_PEERS = 64

/**
 * What one extension lane (one peer, one extension) may make us hold on the receiving side. A
 * sender keeps at most a window unacknowledged (`DEFAULT_WINDOW`: 4,096 messages, 256 KiB, or one
 * larger message alone), so an honest one never has more in flight than that: a message numbered
 * a window or more past what we acknowledged is a protocol violation (`ERR_PROTOCOL`, the
 * connection is closed). Messages waiting for their delivery turn are bounded by the same window
 * in count, and in bytes by the byte window plus one message of the largest size (below).
 * Without this, one 1 MB `BATCH` frame of empty messages queued a million deliveries (220 bytes of
 * heap per byte received).
 */
export const RECEIVE_QUEUE_BYTES = 256 * 1024 + 8 * 1024 * 1024

/**
 * A lane whose window stays full with no acknowledgement for this long (ms), while connected, is
 * stalled: `ERR_PEER_STALLED` once, and `drained()`/`broadcast()` stop waiting for it, so one
 * peer that never reads cannot hold up the others.
 */
export const STALL_MS = 1000

/**
 * A stalled lane holds at most this many windows unacknowledged (in flight plus queued); what is
 * sent to it beyond is refused, counted in `stats.dropped` and reported as one `ERR_UNDELIVERED`
 * when the stall ends or the peer goes. The first acknowledgement ends the stall.
 */
export const STALLED_WINDOWS = 2

/**
 * A remote that refuses an extension channel before it ever opened it may not have admitted the
 * connection yet (its `onauthenticate` still deciding): for this long (ms) the lane keeps what
 * was sent (at most one window; beyond it, counted as dropped) and opens again as soon as the
 * remote opens the channel. Then the lane is dropped, counted and not reported (the remote has
 * not registered the extension); if the remote opens it later after all, what was dropped is
 * reported as `ERR_UNDELIVERED`.
 */
export const REFUSAL_GRACE_MS = DEFAULT_HANDSHAKE_TIMEOUT

/**
 * What a receiver remembers of a peer's extension lanes once the peer is removed: the sender's
 * session and how far it delivered, so that a swap only the sender saw (it kept the lane across a
 * cut that outlasted the receiver's dedupe grace) resumes without delivering anything twice.
 * Kept for `RECEIVE_MEMORY_MS`, at most `RECEIVE_MEMORY_ENTRIES` lanes (the oldest forgotten first).
 */
export const RECEIVE_MEMORY_ENTRIES = 4096
export const RECEIVE_MEMORY_MS = 10 * 60 * 1000

/**
 * `progress$(core)`: a peer that opened a core's replication counts as unknown (not synced) until
 * its first sync message tells its length. Hypercore emits no event for that message, so while a
 * peer has not sent it, progress$ looks again every `PROGRESS_SYNC_CHECK_MS`, for at most this
 * long (ms) after the peer was added: a remote that opens replication and never syncs costs a few
 * looks, then nothing (it stays unknown, so the core is not reported synced).
 */
export const PROGRESS_SYNC_WAIT_MS = DEFAULT_HANDSHAKE_TIMEOUT

/**
 * The fewest peers a networker looks for and is given room for, with `maxPeers` peers at most:
 * `min(maxPeers, max(2, ceil(maxPeers / 3)))` — 2 for `maxPeers` 4, 4 for 12, 22 for the default
 * 64. Peers tell each other their peer count on the keep-alive channel; a full networker gives
 * a newcomer with fewer than this a slot by closing the peer that has the most (more than this),
 * so a topic larger than `maxPeers` stays one connected graph instead of closed groups of
 * `maxPeers + 1` (libp2p's connection manager has the same low/high water marks).
 */
export function minPeersFor(maxPeers: number): number {
  return Math.min(maxPeers, Math.max(2, Math.ceil(maxPeers / 3)))
}

/**
 * Connections that arrived while every `maxPeers` slot was held, waiting to tell their peer
 * count (on probation): beyond these, a connection is refused as it opens. So at most
 * `maxPeers + MAX_PROBATION` connections are held at once.
 */
export const MAX_PROBATION = 2

/**
 * How long (ms) a connection on probation has, from its first moment, to answer the keep-alive
 * channel and tell its peer count; then it is decided without the count (refused while full).
 */
export const PROBATION_WAIT_MS = 2000

/** A peer is not closed to make room before it has been connected this long (ms). */
export const EVICTION_GRACE_MS = 3000

/** A peer closed to make room is refused this long (ms) while we are still full. */
export const EVICTED_REFUSAL_MS = 30_000

/**
 * A swarm that knows more peers than `maxPeers` (a partial mesh) dials at most this many
 * (`ceil(maxPeers / 2)`) and keeps the other slots for peers that dial it; Hyperswarm's
 * `maxClientConnections` when the caller gave none.
 */
export function dialLimitFor(maxPeers: number): number {
  return Math.max(1, Math.ceil(maxPeers / 2))
}

/**
 * A connection we dialled that the remote closes within this many ms of its opening was refused
 * (the remote was full, or is failing)...
 */
export const REFUSED_WITHIN_MS = 3000

/**
 * ...and its key is not dialled again for this long (ms; Hyperswarm's ban, lifted afterwards): a
 * host below `maxPeers` in a topic of full hosts made 130 dials a minute to them before.
 */
export const REFUSED_BACKOFF_MS = 60_000

/** Changes of our peer count are told to the remotes at most this often (ms), coalesced. */
export const TELL_PEERS_MS = 1000
