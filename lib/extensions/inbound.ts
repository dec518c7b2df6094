import { NetworkerError, errors } from '../errors'
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

/**
 * The receiving side of every extension channel: messages (single or batched) are counted on
 * their lane, delivered to the extension's first registration now or in a later turn of the
 * `DeliveryQueue`, and acknowledged through the link's writer; malformed input becomes an
 * error of the extension.
 */
export class Inbound {
  private readonly deliveries = new DeliveryQueue<Arrival>((a) => {
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
    if (this.receive(link, slot, seq, bytes)) link.writer.delivered(slot) // the acknowledgement, now or a moment later
  }

  /** The messages of a `BATCH`, from sequence number `seq`; returns the number after its last. */
  arriveBatch(link: Link, slot: Slot, seq: number, bytes: Uint8Array): number {
    const reader = new BatchReader(bytes)
    let delivered = false
    for (let message = reader.next(); message !== null; message = reader.next()) {
      if (this.receive(link, slot, seq++, message)) delivered = true
    }
    if (reader.malformed) this.fail(slot.nameState, errors.decode(slot.nameState.name, link.remoteKey(), new Error('truncated batch')))
    if (delivered) link.writer.delivered(slot) // once for the batch: acknowledgements go at the end of the tick
    return seq
  }

  /**
   * Message `seq` arrived: true if it was delivered now; false if it waits for a later turn
   * (then the queue acknowledges it) or is a duplicate of the connection this one replaced.
   */
  private receive(link: Link, slot: Slot, seq: number, bytes: Uint8Array): boolean {
    if (!slot.lane.arrive(seq)) return false
    slot.nameState.counters.received++
    const epoch = slot.lane.remoteEpoch
    if (!this.deliveries.canDeliverNow()) {
      this.deliveries.push({ link, slot, seq, epoch, bytes })
      return false
    }
    this.deliver(link, slot, seq, epoch, bytes)
    return true
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
