import { NetworkerError, errors } from '../errors'
import { RECEIVE_QUEUE_BYTES } from '../budgets'
import { DeliveryQueue } from './delivery'
import { DELIVERY_BUDGET_MS } from './limits'
import type { Arrival, Link, Slot } from './link'
import type { NameState } from './registry'
import { BatchReader } from './wire'

/** What the inbound path needs of the hub's options. */
export interface InboundOptions {
  readonly maxMessageSize: number
  readonly onerror: (err: NetworkerError) => void
}

/** What `receive` did with a message. */
type Received = 'now' | 'later' | 'skipped' | 'refused'

/**
 * The receiving side of every extension channel: messages (single or batched) are counted on
 * their lane, delivered to the extension's first registration now or in a later turn of the
 * `DeliveryQueue`, and acknowledged through the link's writer; malformed input becomes an
 * error of the extension. What one lane may make us queue is bounded (see `RECEIVE_QUEUE_BYTES`):
 * a sender that does not wait for its window breaks the protocol and loses its connection.
 */
export class Inbound {
  private readonly deliveries = new DeliveryQueue<Arrival>((a) => {
    a.slot.queuedBytes -= a.bytes.byteLength
    this.deliver(a.link, a.slot, a.seq, a.epoch, a.bytes)
    a.link.writer.delivered(a.slot) // the acknowledgement, now or a moment later
  }, DELIVERY_BUDGET_MS)

  constructor(private readonly opts: InboundOptions) {}

  /** A connection's tick ended: deliveries of the next one start a new turn. */
  endTurn(): void {
    this.deliveries.endTurn()
  }

  /** Stops delivering (the hub is destroyed). */
  close(): void {
    this.deliveries.close()
  }

  /** A single `DATA` message, sequence number `seq`. */
  arrive(link: Link, slot: Slot, seq: number, bytes: Uint8Array): void {
    if (this.receive(link, slot, seq, bytes) === 'now') link.writer.delivered(slot) // the acknowledgement, now or a moment later
  }

  /** The messages of a `BATCH`, from sequence number `seq`; returns the number after its last. */
  arriveBatch(link: Link, slot: Slot, seq: number, bytes: Uint8Array): number {
    const reader = new BatchReader(bytes)
    let delivered = false
    for (let message = reader.next(); message !== null; message = reader.next()) {
      const result = this.receive(link, slot, seq++, message)
      if (result === 'refused') return seq
      if (result === 'now') delivered = true
    }
    if (reader.malformed) this.fail(slot.nameState, errors.decode(slot.nameState.name, link.remoteKey(), new Error('truncated batch')))
    if (delivered) link.writer.delivered(slot) // once for the batch: acknowledgements go at the end of the tick
    return seq
  }

  /**
   * The remote broke the protocol: reported as `ERR_PROTOCOL` (to the extension and `errors$`)
   * and its connection is closed. Nothing more is read from it.
   */
  violation(link: Link, nameState: NameState, why: string): void {
    if (link.stream.destroying) return
    this.fail(nameState, errors.protocol(nameState.name, link.remoteKey(), why))
    link.stream.destroy()
  }

  /**
   * Message `seq` arrived: delivered now; queued for a later turn (then the queue acknowledges
   * it); skipped (a duplicate of the connection this one replaced, or the connection is gone);
   * or refused: beyond the sender's window, a protocol violation.
   */
  private receive(link: Link, slot: Slot, seq: number, bytes: Uint8Array): Received {
    if (link.stream.destroying) return 'refused'
    const arrived = slot.lane.arrive(seq)
    if (arrived === 'duplicate') return 'skipped'
    if (arrived === 'overrun') {
      this.violation(link, slot.nameState, `message ${seq} is beyond its window of ${slot.lane.windowMessages} messages`)
      return 'refused'
    }
    const now = this.deliveries.canDeliverNow()
    if (!now && slot.queuedBytes + bytes.byteLength > RECEIVE_QUEUE_BYTES) {
      this.violation(link, slot.nameState, `more than ${RECEIVE_QUEUE_BYTES} bytes in flight`)
      return 'refused'
    }
    slot.nameState.counters.received++
    slot.traffic.received++
    const epoch = slot.lane.remoteEpoch
    if (!now) {
      slot.queuedBytes += bytes.byteLength
      this.deliveries.push({ link, slot, seq, epoch, bytes })
      return 'later'
    }
    this.deliver(link, slot, seq, epoch, bytes)
    return 'now'
  }

  private deliver(link: Link, slot: Slot, seq: number, epoch: number | null, bytes: Uint8Array): void {
    if (!slot.alive) return
    const target = slot.nameState.registrations[0]
    if (target !== undefined) {
      const max = this.opts.maxMessageSize
      if (bytes.byteLength > max) target.fail(errors.tooLarge(bytes.byteLength, max, link.remoteKey()))
      else target.deliver(bytes, link.peer, link.remoteKey)
    }
    slot.lane.markDelivered(seq, epoch, bytes.byteLength)
  }

  /** `fn(bytes)`, or null with a decode error reported for the extension. */
  decode<R>(link: Link, nameState: NameState, bytes: Uint8Array, fn: (bytes: Uint8Array) => R): R | null {
    try {
      return fn(bytes)
    } catch (err) {
      this.fail(nameState, errors.decode(nameState.name, link.remoteKey(), err))
      return null
    }
  }

  /** An error of an extension: to its first registration, else to the networker's `errors$`. */
  fail(nameState: NameState, err: NetworkerError): void {
    const target = nameState.registrations[0]
    if (target !== undefined) target.fail(err)
    else this.opts.onerror(err)
  }
}
