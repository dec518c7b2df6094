import type Protomux from 'protomux'
import type { Lane } from './lane'
import { ACK_DELAY_MS, FLUSH_BATCH_BYTES } from './limits'
import { BatchWire, MSG_ACK, MSG_DATA, encodeAck } from './wire'

/** What the writer needs of an extension on this connection. */
export interface WriterSlot {
  readonly lane: Lane
  channel: Protomux.Channel | null
  /** The channel's `BATCH` message (set and cleared with `channel`). */
  batch: Protomux.Message<BatchWire> | null
  /** Owned by the writer: the slot is in its end-of-tick list / waits for a late ack. */
  scheduled: boolean
  lateAck: boolean
}

/** Settled once: `then` on it runs a callback at the end of the current tick (a microtask). */
const END_OF_TICK = Promise.resolve()

/**
 * The writes of one peer's connection, coalesced per tick. A message is handed to Protomux as
 * soon as its window allows (Protomux copies it then, so the caller's buffer is free for the
 * first transmission): one message as a `DATA`, several that the window lets go together (a
 * `sendMany`, a refill after an acknowledgement, resends) as one `BATCH` encoded straight into
 * the frame. The first write of a tick goes out alone, and from the second one on the muxer is
 * corked until the end of the tick (a microtask), so a burst of single `send()`s leaves as one
 * frame. Frames and batches are cut at `FLUSH_BATCH_BYTES`. At the end of the tick the writer
 * also sends acknowledgements: at once from an eighth of the window, the rest after
 * `ACK_DELAY_MS`, so a lone message does not cost a second write.
 */
export class LinkWriter {
  private readonly dirty: WriterSlot[] = []
  /** Slots whose deliveries wait for a delayed acknowledgement. */
  private lateAcks: WriterSlot[] = []
  private corked: Protomux | null = null
  private tickWrites = 0
  private batchBytes = 0
  private flushQueued = false
  /** Created once and re-armed with `refresh()`; `ackArmed` says whether it is pending. */
  private ackTimer: ReturnType<typeof setTimeout> | null = null
  private ackArmed = false
  private readonly ackBound = (): void => {
    this.ackArmed = false
    this.forceAcks = true
    const late = this.lateAcks
    this.lateAcks = []
    for (const slot of late) {
      slot.lateAck = false
      this.schedule(slot)
    }
  }
  private forceAcks = false
  private closed = false
  private readonly flushBound = (): void => {
    try {
      this.flush()
    } catch (err) {
      for (const slot of this.dirty) slot.scheduled = false
      this.dirty.length = 0
      this.flushQueued = false
      this.tickWrites = 0
      this.uncork()
      this.onfault(err)
    }
  }
  /** The messages of the write being made (emptied after each). */
  private readonly out: Uint8Array[] = []

  /** `onTickEnd` runs at the end of every tick in which this connection wrote or scheduled. */
  /**
   * `onfault` gets whatever a write threw at the end of a tick (a promise callback): it must
   * never become an unhandled rejection. Numbers read off the wire are validated before they
   * reach a write, so this is a last line, not a path.
   */
  constructor(
    private mux: Protomux,
    private readonly onTickEnd: () => void,
    private readonly onfault: (err: unknown) => void
  ) {}

  /** The peer moved to a replacement connection. */
  setMux(mux: Protomux): void {
    this.uncork()
    this.mux = mux
  }

  /** Writes what the slot's window allows now. */
  pump(slot: WriterSlot): void {
    const channel = slot.channel
    const batch = slot.batch
    if (this.closed || channel === null || batch === null || channel.closed) return
    const out = this.out
    while (slot.lane.takeInto(out, FLUSH_BATCH_BYTES) > 0) {
      if (this.tickWrites++ === 1) this.cork()
      let size = 0
      if (out.length === 1) {
        const bytes = out.pop() as Uint8Array // the writer keeps no message
        size = bytes.byteLength
        channel.messages[MSG_DATA].send(bytes)
      } else {
        for (let i = 0; i < out.length; i++) size += out[i].byteLength
        batch.send(out)
        out.length = 0
      }
      if (this.corked !== null && (this.batchBytes += size) >= FLUSH_BATCH_BYTES) {
        this.uncork()
        this.cork()
      }
    }
    this.endTickSoon()
  }

  /** A message of this slot was delivered: acknowledge at the end of the tick or a moment later. */
  delivered(slot: WriterSlot): void {
    if (slot.lane.ackReady) return this.schedule(slot)
    if (this.closed || slot.lateAck) return
    slot.lateAck = true
    this.lateAcks.push(slot)
    this.armAckTimer()
  }

  /** Acknowledge or write for this slot at the end of the tick. */
  schedule(slot: WriterSlot): void {
    if (this.closed) return
    if (!slot.scheduled) {
      slot.scheduled = true
      this.dirty.push(slot)
    }
    this.endTickSoon()
  }

  close(): void {
    this.closed = true
    for (const slot of this.dirty) slot.scheduled = false
    for (const slot of this.lateAcks) slot.lateAck = false
    this.dirty.length = 0
    this.lateAcks = []
    if (this.ackTimer !== null) clearTimeout(this.ackTimer)
    this.ackTimer = null
    this.ackArmed = false
    this.uncork()
  }

  private endTickSoon(): void {
    if (this.flushQueued) return
    this.flushQueued = true
    void END_OF_TICK.then(this.flushBound)
  }

  private flush(): void {
    const force = this.forceAcks
    this.forceAcks = false
    const dirty = this.dirty
    for (let i = 0; i < dirty.length; i++) {
      const slot = dirty[i]
      slot.scheduled = false
      const channel = slot.channel
      if (this.closed || channel === null || channel.closed) continue
      const ack = slot.lane.ackDue(force)
      if (ack !== null) {
        if (this.tickWrites++ === 1) this.cork()
        channel.messages[MSG_ACK].send(encodeAck(ack))
      } else if (slot.lane.ackPending && !slot.lateAck) {
        slot.lateAck = true
        this.lateAcks.push(slot)
      }
      this.pump(slot) // flushQueued is still set: no new tick
    }
    if (dirty.length > 0) dirty.length = 0
    this.flushQueued = false
    this.uncork()
    this.tickWrites = 0
    if (this.lateAcks.length > 0) this.armAckTimer()
    this.onTickEnd()
  }

  private armAckTimer(): void {
    if (this.ackArmed || this.closed) return
    this.ackArmed = true
    if (this.ackTimer === null) {
      this.ackTimer = setTimeout(this.ackBound, ACK_DELAY_MS)
      this.ackTimer.unref()
    } else this.ackTimer.refresh()
  }

  private cork(): void {
    if (this.corked !== null) return
    this.corked = this.mux
    this.corked.cork()
    this.batchBytes = 0
  }

  private uncork(): void {
    const mux = this.corked
    if (mux === null) return
    this.corked = null
    mux.uncork()
  }
}
