import Protomux from 'protomux'
import c from 'compact-encoding'
import { NetworkerError, errors } from '../errors'
import type { Codec } from '../encodings'
import type { Peer } from '../peer'
import type { PeerRecord } from '../peer-record'
import { toHex } from '../keys'
import type { WindowLimits } from './lane'
import { DeliveryQueue } from './delivery'
import { DELIVERY_BUDGET_MS, DEFAULT_WINDOW, EXTENSION_PROTOCOL, nameBytes } from './limits'
import { Arrival, Link, Slot, createLink, createSlot } from './link'
import { Extension, ExtensionPort, NameState, Registration, createNameState } from './registry'
import { BatchReader, BatchWire, MSG_RESUME, batchEncoding, decodeAck, decodeResume, encodeResume } from './wire'

export interface ExtensionHubOptions {
  maxMessageSize: number
  onerror: (err: NetworkerError) => void
  /** The credit window per peer and extension (default `DEFAULT_WINDOW`). */
  window?: WindowLimits
}

/**
 * Owns every extension channel of the networker: one Protomux channel per extension per
 * connection, a `Lane` per extension per peer (surviving connection swaps), writes coalesced
 * per connection at the end of the tick, and deliveries paced by a `DeliveryQueue`.
 */
export class ExtensionHub implements ExtensionPort {
  private readonly names = new Map<string, NameState>()
  private readonly links = new Map<Peer, Link>()
  private readonly window: WindowLimits
  private readonly deliveries = new DeliveryQueue<Arrival>((a) => {
    this.deliver(a.link, a.slot, a.seq, a.epoch, a.bytes)
    a.link.writer.delivered(a.slot) // the acknowledgement, now or a moment later
  }, DELIVERY_BUDGET_MS)
  private isClosed = false
  /** A connection's tick ended: deliveries of the next one start a new turn. */
  private readonly endTurn = (): void => this.deliveries.endTurn()

  constructor(private readonly opts: ExtensionHubOptions) {
    this.window = opts.window ?? DEFAULT_WINDOW
  }

  get closed(): boolean {
    return this.isClosed
  }

  get maxMessageSize(): number {
    return this.opts.maxMessageSize
  }

  /** Registers an extension; channels open on every current peer at once. */
  register<T>(name: string, codec: Codec<T>): Extension<T> {
    const id = nameBytes(name)
    let ns = this.names.get(id.toString('latin1'))
    if (ns === undefined) {
      ns = createNameState(name, id)
      this.names.set(ns.key, ns)
    }
    const registration = new Registration<T>(this, ns, codec)
    ns.registrations.push(registration as Registration<unknown>)
    if (ns.registrations.length === 1) for (const link of this.links.values()) this.openLane(link, ns)
    return registration
  }

  /** A new peer: pair the protocol and open every registered extension, before it is announced. */
  attach(peer: PeerRecord): void {
    const link = createLink(peer, this.endTurn)
    this.links.set(peer, link)
    this.wire(link)
  }

  /** The peer moved to a replacement connection: reopen its channels there and resend. */
  swap(peer: PeerRecord): void {
    const link = this.links.get(peer)
    if (link === undefined) return this.attach(peer)
    for (const slot of link.lanes.values()) this.unlink(slot)
    link.stream = peer.stream
    link.mux = Protomux.from(peer.stream)
    link.writer.setMux(link.mux)
    this.wire(link)
  }

  /** The peer is gone for good: what it has not acknowledged is lost, and reported. */
  detach(peer: Peer): void {
    const link = this.links.get(peer)
    if (link === undefined) return
    this.links.delete(peer)
    link.writer.close()
    link.mux.unpair({ protocol: EXTENSION_PROTOCOL })
    for (const slot of link.lanes.values()) this.close(link, slot, 'the peer is gone')
  }

  /** Completes every registration; unacknowledged messages are reported. */
  destroy(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.deliveries.close()
    for (const peer of [...this.links.keys()]) this.detach(peer)
    for (const ns of this.names.values()) for (const registration of [...ns.registrations]) registration.destroy()
  }

  unregister(registration: Registration<unknown>, ns: NameState): void {
    const index = ns.registrations.indexOf(registration)
    if (index === -1) return
    ns.registrations.splice(index, 1)
    if (ns.registrations.length > 0) return
    this.names.delete(ns.key)
    for (const link of this.links.values()) {
      const slot = link.lanes.get(ns.key)
      if (slot === undefined) continue
      link.lanes.delete(ns.key)
      this.close(link, slot, 'the extension was destroyed')
    }
    this.release(ns)
  }

  send(ns: NameState, peer: Peer, messages: Uint8Array | readonly Uint8Array[]): boolean {
    const link = this.links.get(peer)
    if (link === undefined) throw errors.unknownPeer(toHex(peer.remotePublicKey))
    return this.accept(link, ns, messages)
  }

  broadcast(ns: NameState, bytes: Uint8Array): boolean {
    let room = true
    for (const link of this.links.values()) room = this.accept(link, ns, bytes) && room
    return room
  }

  drained(ns: NameState): Promise<void> {
    if (this.isDrained(ns)) return Promise.resolve()
    return new Promise<void>((resolve) => ns.waiters.push(resolve))
  }

  report(err: NetworkerError): void {
    this.opts.onerror(err)
  }

  private accept(link: Link, ns: NameState, messages: Uint8Array | readonly Uint8Array[]): boolean {
    const slot = link.lanes.get(ns.key)
    // Not registered remotely (refused); while the connection is down a replacement may come.
    if (slot === undefined || slot.refused || (slot.channel === null && !link.stream.destroyed)) {
      ns.counters.dropped += messages instanceof Uint8Array ? 1 : messages.length
      return true
    }
    const lane = slot.lane
    if (messages instanceof Uint8Array) lane.accept(messages)
    else for (let i = 0; i < messages.length; i++) lane.accept(messages[i])
    link.writer.pump(slot)
    return lane.hasRoom
  }

  /** Every lane of the name at most three quarters full (so a waiting sender refills in bulk). */
  private isDrained(ns: NameState): boolean {
    for (const link of this.links.values()) {
      const slot = link.lanes.get(ns.key)
      if (slot !== undefined && !slot.lane.drained) return false
    }
    return true
  }

  private release(ns: NameState): void {
    if (ns.waiters.length === 0 || (this.names.get(ns.key) === ns && !this.isDrained(ns))) return
    for (const resolve of ns.waiters.splice(0)) resolve()
  }

  /** Pairs the extension protocol on the link's muxer and opens every extension channel. */
  private wire(link: Link): void {
    const { mux } = link
    mux.pair({ protocol: EXTENSION_PROTOCOL }, (id) => {
      // Runs synchronously inside Protomux: it must never throw or wait.
      if (id === null || this.links.get(link.peer) !== link || link.mux !== mux) return
      const ns = this.names.get(Buffer.from(id).toString('latin1'))
      if (ns !== undefined) this.openLane(link, ns)
    })
    for (const ns of this.names.values()) this.openLane(link, ns)
  }

  private openLane(link: Link, ns: NameState): void {
    if (link.stream.destroyed) return
    let slot = link.lanes.get(ns.key)
    if (slot === undefined) {
      slot = createSlot(ns, this.window)
      link.lanes.set(ns.key, slot)
    }
    if (slot.channel !== null && !slot.channel.closed) return
    const owner = slot
    let expect = 0 // the sequence number of the next DATA on this channel
    const channel = link.mux.createChannel({
      protocol: EXTENSION_PROTOCOL,
      id: ns.id,
      unique: true,
      messages: [
        { encoding: c.raw, onmessage: (bytes: Uint8Array) => this.arrive(link, owner, expect++, bytes) },
        { encoding: c.raw, onmessage: (bytes: Uint8Array) => this.acked(link, owner, bytes) },
        {
          encoding: c.raw,
          onmessage: (bytes: Uint8Array) => {
            const resume = this.decode(link, ns, bytes, decodeResume)
            if (resume === null) return
            expect = resume.seq
            const missing = owner.lane.resume(resume.seq, resume.epoch)
            if (missing > 0) this.fail(ns, errors.gap(ns.name, link.remoteKey(), missing))
            link.writer.schedule(owner) // acknowledge again what the old connection may have lost
          }
        }
      ],
      onclose: () => {
        if (owner.channel !== channel) return
        this.unlink(owner)
        // The connection closed: keep the window for a replacement. The remote refused or
        // closed the channel (it has not registered the extension, or destroyed it).
        if (link.stream.destroyed || this.links.get(link.peer) !== link || link.lanes.get(ns.key) !== owner) return
        owner.refused = true
        const lost = owner.lane.drop()
        ns.counters.dropped += lost
        if (lost > 0 && channel !== null && channel.opened) {
          this.opts.onerror(errors.undelivered(ns.name, link.remoteKey(), lost, 'the remote closed the extension'))
        }
        this.release(ns)
      }
    })
    if (channel === null) return
    const batch = channel.addMessage<BatchWire>({
      encoding: batchEncoding,
      onmessage: (bytes: BatchWire) => {
        if (bytes instanceof Uint8Array) expect = this.arriveBatch(link, owner, expect, bytes)
      }
    })
    slot.channel = channel
    slot.batch = batch
    slot.refused = false
    channel.open()
    channel.messages[MSG_RESUME].send(encodeResume(slot.lane.connect(), slot.lane.epoch))
    link.writer.pump(slot) // the window again, then what waited
  }

  private unlink(slot: Slot): void {
    slot.channel = null
    slot.batch = null
    slot.lane.disconnect()
  }

  /** Closes a slot for good; what its peer has not acknowledged is dropped and reported. */
  private close(link: Link, slot: Slot, reason: string): void {
    slot.alive = false
    const channel = slot.channel
    this.unlink(slot)
    channel?.close()
    const lost = slot.lane.drop()
    if (lost === 0) return
    slot.ns.counters.dropped += lost
    this.opts.onerror(errors.undelivered(slot.ns.name, link.remoteKey(), lost, reason))
    this.release(slot.ns)
  }

  private arrive(link: Link, slot: Slot, seq: number, bytes: Uint8Array): void {
    if (this.receive(link, slot, seq, bytes)) link.writer.delivered(slot) // the acknowledgement, now or a moment later
  }

  /** The messages of a `BATCH`, from sequence number `seq`; returns the number after its last. */
  private arriveBatch(link: Link, slot: Slot, seq: number, bytes: Uint8Array): number {
    const reader = new BatchReader(bytes)
    let delivered = false
    for (let message = reader.next(); message !== null; message = reader.next()) {
      if (this.receive(link, slot, seq++, message)) delivered = true
    }
    if (reader.malformed) this.fail(slot.ns, errors.decode(slot.ns.name, link.remoteKey(), new Error('truncated batch')))
    if (delivered) link.writer.delivered(slot) // once for the batch: acknowledgements go at the end of the tick
    return seq
  }

  /**
   * Message `seq` arrived: true if it was delivered now; false if it waits for a later turn
   * (then the queue acknowledges it) or is a duplicate of the connection this one replaced.
   */
  private receive(link: Link, slot: Slot, seq: number, bytes: Uint8Array): boolean {
    if (!slot.lane.arrive(seq)) return false
    slot.ns.counters.received++
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
    const target = slot.ns.registrations[0]
    if (target !== undefined) {
      const max = this.opts.maxMessageSize
      if (bytes.byteLength > max) target.fail(errors.tooLarge(bytes.byteLength, max, link.remoteKey()))
      else target.deliver(bytes, link.peer, link.remoteKey)
    }
    slot.lane.markDelivered(seq, epoch, bytes.byteLength)
  }

  private acked(link: Link, slot: Slot, bytes: Uint8Array): void {
    const upTo = this.decode(link, slot.ns, bytes, decodeAck)
    if (upTo === null) return
    if (slot.lane.ack(upTo) === 'invalid') {
      this.fail(slot.ns, errors.decode(slot.ns.name, link.remoteKey(), new Error(`acknowledgement ${upTo} out of range`)))
      return
    }
    link.writer.pump(slot) // the window has room again
    this.release(slot.ns)
  }

  private decode<R>(link: Link, ns: NameState, bytes: Uint8Array, fn: (bytes: Uint8Array) => R): R | null {
    try {
      return fn(bytes)
    } catch (err) {
      this.fail(ns, errors.decode(ns.name, link.remoteKey(), err))
      return null
    }
  }

  private fail(ns: NameState, err: NetworkerError): void {
    const target = ns.registrations[0]
    if (target !== undefined) target.fail(err)
    else this.opts.onerror(err)
  }
}
