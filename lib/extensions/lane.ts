/**
 * One extension on one peer, both directions, as a pure state machine (no sockets, no timers):
 * the credit window and outbox of what this side sends, and the resume/duplicate/acknowledge
 * state of what it receives. The channel code (channel.ts) moves bytes; this decides which.
 *
 * Sending. Every accepted message gets the next sequence number and waits in `pending` until
 * the remote acknowledges having *delivered* it. The first messages of `pending`, at most a
 * window of them (messages and bytes; one message alone may exceed the byte window), are in
 * flight; the rest wait behind them. A new connection resumes at the oldest unacknowledged
 * message and writes the in-flight ones again: a swap resends at most one window, and nothing
 * accepted is ever discarded except by `drop()`.
 *
 * Receiving. Sequence numbers are implicit: a channel starts at the remote's resume point and
 * counts up. Messages below what was already accepted are duplicates of an earlier connection;
 * a resume above it is a gap, reported by `resume()` and never skipped silently.
 */

/** A lane's credit window. */
export interface WindowLimits {
  /** Most messages unacknowledged in flight. */
  readonly messages: number
  /** Most bytes unacknowledged in flight (a single larger message may go alone). */
  readonly bytes: number
}

/** Counters a lane adds to (shared by every lane of one extension name). */
export interface LaneCounters {
  /** Messages written for the first time. */
  sent: number
  /** Messages written again on a replacement connection. */
  resent: number
}

/** What `ack()` made of an acknowledgement. */
export type AckResult = 'ok' | 'stale' | 'invalid'

/**
 * What `arrive()` made of a message: deliver it, a duplicate of an earlier connection, or beyond
 * what the sender's window allows (a protocol violation).
 */
export type ArriveResult = 'deliver' | 'duplicate' | 'overrun'

/** What a receiver remembers of a lane whose peer was removed (see `receiveState`). */
export interface ReceiveState {
  readonly epoch: number
  readonly delivered: number
}

const RELEASED = new Uint8Array(0)
/** Acknowledge at once from this fraction of the window (1/ACK_DIVISOR) delivered. */
const ACK_DIVISOR = 8

export class Lane {
  // Sending side. pending[head + i] has sequence number base + i.
  private pending: Uint8Array[] = []
  private head = 0
  private base = 0
  private pendingBytes = 0
  /** How many of pending (from the head) were written at least once. */
  private inFlight = 0
  private inFlightBytes = 0
  /** How many of pending (from the head) were written on the current connection. */
  private written = 0
  private connected = false

  // Receiving side.
  private recvEpoch: number | null = null
  /** Every message below this was accepted for delivery. */
  private accepted = 0
  /** Every message below this was delivered (what we acknowledge). */
  private delivered = 0
  private acknowledged = 0
  /** Where the remote last resumed: its window starts at least here. */
  private floor = 0
  /** Bytes delivered since the last acknowledgement. */
  private deliveredBytes = 0

  constructor(
    /** Random per lane: a receiver tells a new sender session from a resumed one. */
    readonly epoch: number,
    private readonly limits: WindowLimits,
    /** This lane's own counts... */
    private readonly counters: LaneCounters,
    /** ...and the counts it adds to as well (its extension's, over every peer), if any. */
    private readonly shared: LaneCounters | null = null
  ) {}

  /** The window's size in messages. */
  get windowMessages(): number {
    return this.limits.messages
  }

  /** Accepted messages not yet acknowledged (in flight or waiting). */
  get unacknowledged(): number {
    return this.pending.length - this.head
  }

  get unacknowledgedBytes(): number {
    return this.pendingBytes
  }

  /** Messages and bytes written at least once and not acknowledged (at most a window). */
  get inFlightMessages(): number {
    return this.inFlight
  }

  get inFlightByteCount(): number {
    return this.inFlightBytes
  }

  /** Whether more may be accepted without waiting: the window is not full. */
  get hasRoom(): boolean {
    return this.unacknowledged < this.limits.messages && this.pendingBytes < this.limits.bytes
  }

  /** Whether the window is at most three quarters full: `drained()` waits for this, so a sender refills in bulk. */
  get drained(): boolean {
    return this.unacknowledged <= (this.limits.messages * 3) / 4 && this.pendingBytes <= (this.limits.bytes * 3) / 4
  }

  /** Accepts a message (never refused); returns `hasRoom`. */
  accept(bytes: Uint8Array): boolean {
    this.pending.push(bytes)
    this.pendingBytes += bytes.byteLength
    return this.hasRoom
  }

  /** A new connection: returns the sequence number it resumes at; in-flight messages go again. */
  connect(): number {
    this.connected = true
    this.written = 0
    return this.base
  }

  /** The connection is gone (a replacement may come). */
  disconnect(): void {
    this.connected = false
    this.written = 0
  }

  /**
   * The next message to write on the current connection, or null: first the in-flight ones
   * not yet written on it (resends), then new ones while the window has room.
   */
  take(): Uint8Array | null {
    if (!this.connected) return null
    if (this.written < this.inFlight) {
      this.tally(0, 1)
      return this.pending[this.head + this.written++]
    }
    const index = this.head + this.inFlight
    if (index >= this.pending.length || this.inFlight >= this.limits.messages) return null
    const bytes = this.pending[index]
    if (this.inFlight > 0 && this.inFlightBytes + bytes.byteLength > this.limits.bytes) return null
    this.inFlight++
    this.inFlightBytes += bytes.byteLength
    this.written++
    this.tally(1, 0)
    return bytes
  }

  /**
   * Appends to `out` what `take()` would return one call after another, stopping before the
   * messages pass `maxBytes` together (a first message larger than that comes alone); returns
   * how many it appended.
   */
  takeInto(out: Uint8Array[], maxBytes: number): number {
    if (!this.connected) return 0
    const pending = this.pending
    let count = 0
    let size = 0
    while (this.written < this.inFlight) {
      const bytes = pending[this.head + this.written]
      if (count > 0 && size + bytes.byteLength > maxBytes) break
      this.written++
      out.push(bytes)
      count++
      size += bytes.byteLength
    }
    const resent = count
    if (this.written < this.inFlight) {
      this.tally(0, resent)
      return count
    }
    const { messages, bytes: byteWindow } = this.limits
    for (let index = this.head + this.inFlight; index < pending.length && this.inFlight < messages; index++) {
      const bytes = pending[index]
      if (this.inFlight > 0 && this.inFlightBytes + bytes.byteLength > byteWindow) break
      if (count > 0 && size + bytes.byteLength > maxBytes) break
      this.inFlight++
      this.inFlightBytes += bytes.byteLength
      this.written++
      out.push(bytes)
      count++
      size += bytes.byteLength
    }
    this.tally(count - resent, resent)
    return count
  }

  /** Counts messages written for the first time and again, once per write (not per message). */
  private tally(sent: number, resent: number): void {
    this.counters.sent += sent
    this.counters.resent += resent
    if (this.shared === null) return
    this.shared.sent += sent
    this.shared.resent += resent
  }

  /** The remote delivered every message below `upTo`: release them. */
  ack(upTo: number): AckResult {
    if (!Number.isSafeInteger(upTo) || upTo > this.base + this.inFlight) return 'invalid'
    if (upTo <= this.base) return 'stale'
    const count = upTo - this.base
    for (let i = 0; i < count; i++) {
      const size = this.pending[this.head].byteLength
      this.pendingBytes -= size
      this.inFlightBytes -= size
      this.pending[this.head++] = RELEASED // the buffer is the caller's again
    }
    this.base = upTo
    this.inFlight -= count
    this.written = Math.max(0, this.written - count)
    this.compact()
    return 'ok'
  }

  /** Gives up every unacknowledged message; returns how many (the caller reports them). */
  drop(): number {
    const count = this.unacknowledged
    this.base += count
    this.pending = []
    this.head = 0
    this.pendingBytes = 0
    this.inFlight = 0
    this.inFlightBytes = 0
    this.written = 0
    return count
  }

  /**
   * The remote resumes at `seq` of its session `epoch`. Returns how many messages it skipped
   * (a gap, to report), normally 0. A new session starts fresh; within one session a resume
   * below what we delivered makes us acknowledge again on the new connection.
   */
  resume(seq: number, epoch: number): number {
    this.floor = seq
    if (epoch !== this.recvEpoch) {
      this.recvEpoch = epoch
      this.accepted = this.delivered = this.acknowledged = seq
      return 0
    }
    if (seq < this.acknowledged) this.acknowledged = seq
    if (seq <= this.accepted) return 0
    const missing = seq - this.accepted
    this.accepted = seq
    return missing
  }

  /** The remote's session (null before any resume). */
  get remoteEpoch(): number | null {
    return this.recvEpoch
  }

  /**
   * Message `seq` arrived: deliver it, or a duplicate of an earlier connection, or an overrun: a
   * sender keeps at most a window of messages unacknowledged, and its window starts no later than
   * the higher of what we acknowledged and where it resumed, so a message a window or more past
   * that was sent without waiting for us.
   */
  arrive(seq: number): ArriveResult {
    if (seq < this.accepted) return 'duplicate'
    if (seq >= Math.max(this.acknowledged, this.floor) + this.limits.messages) return 'overrun'
    this.accepted = seq + 1
    return 'deliver'
  }

  /** The remote's session and how far we delivered it, or null before any resume. */
  receiveState(): ReceiveState | null {
    return this.recvEpoch === null ? null : { epoch: this.recvEpoch, delivered: this.delivered }
  }

  /**
   * Continues the receiving side of a lane of the same peer that was removed: a resume of that
   * session skips what was delivered then (and acknowledges it again).
   */
  restoreReceive(state: ReceiveState): void {
    this.recvEpoch = state.epoch
    this.accepted = this.delivered = this.acknowledged = this.floor = state.delivered
  }

  /** Message `seq` (of `size` bytes) of session `epoch` reached the application. */
  markDelivered(seq: number, epoch: number | null, size = 0): void {
    if (epoch !== this.recvEpoch || seq + 1 <= this.delivered) return
    this.delivered = seq + 1
    this.deliveredBytes += size
  }

  /**
   * The acknowledgement to send now, or null. Without `force`, only once an eighth of the
   * window was delivered since the last one (the caller forces the rest after a short delay,
   * so a lone message does not cost a second write).
   */
  ackDue(force: boolean): number | null {
    const due = this.delivered - this.acknowledged
    if (due <= 0 || (!force && due < this.limits.messages / ACK_DIVISOR && this.deliveredBytes < this.limits.bytes / ACK_DIVISOR)) return null
    this.acknowledged = this.delivered
    this.deliveredBytes = 0
    return this.delivered
  }

  /** Whether enough was delivered to acknowledge at once (an eighth of the window). */
  get ackReady(): boolean {
    const due = this.delivered - this.acknowledged
    return due > 0 && (due >= this.limits.messages / ACK_DIVISOR || this.deliveredBytes >= this.limits.bytes / ACK_DIVISOR)
  }

  /** Whether something delivered is not acknowledged yet. */
  get ackPending(): boolean {
    return this.delivered > this.acknowledged
  }

  /**
   * Drops released slots in bulk, once the head has passed 1,024 of them (they hold no
   * buffer): a lane that sends one message at a time keeps appending to the same array
   * instead of allocating a new one after every acknowledgement.
   */
  private compact(): void {
    if (this.head < 1024) return
    if (this.head === this.pending.length) {
      this.pending = []
      this.head = 0
    } else if (this.head * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.head)
      this.head = 0
    }
  }
}
