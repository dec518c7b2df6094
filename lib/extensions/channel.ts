import Protomux from 'protomux'
import c from 'compact-encoding'
import { NetworkerError, errors } from '../errors'
import type { Codec } from '../encodings'
import type { Peer } from '../peer'
import type { PeerRecord } from '../peer-record'
import { toHex } from '../keys'
import type { WindowLimits } from './lane'
import { Inbound } from './inbound'
import { DEFAULT_WINDOW, EXTENSION_PROTOCOL, nameBytes } from './limits'
import { Link, Slot, createLink, createSlot } from './link'
import { Extension, ExtensionPort, NameState, Registration, createNameState } from './registry'
import { BatchWire, MSG_RESUME, batchEncoding, decodeAck, decodeResume, encodeResume } from './wire'

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
  private readonly inbound: Inbound
  private isClosed = false
  /** A connection's tick ended: deliveries of the next one start a new turn. */
  private readonly endTurn = (): void => this.inbound.endTurn()

  constructor(private readonly opts: ExtensionHubOptions) {
    this.window = opts.window ?? DEFAULT_WINDOW
    this.inbound = new Inbound(opts)
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
    let nameState = this.names.get(id.toString('latin1'))
    if (nameState === undefined) {
      nameState = createNameState(name, id)
      this.names.set(nameState.key, nameState)
    }
    const registration = new Registration<T>(this, nameState, codec)
    nameState.registrations.push(registration as Registration<unknown>)
    if (nameState.registrations.length === 1) for (const link of this.links.values()) this.openLane(link, nameState)
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
    this.inbound.close()
    for (const peer of [...this.links.keys()]) this.detach(peer)
    for (const nameState of this.names.values()) for (const registration of [...nameState.registrations]) registration.destroy()
  }

  unregister(registration: Registration<unknown>, nameState: NameState): void {
    const index = nameState.registrations.indexOf(registration)
    if (index === -1) return
    nameState.registrations.splice(index, 1)
    if (nameState.registrations.length > 0) return
    this.names.delete(nameState.key)
    for (const link of this.links.values()) {
      const slot = link.lanes.get(nameState.key)
      if (slot === undefined) continue
      link.lanes.delete(nameState.key)
      this.close(link, slot, 'the extension was destroyed')
    }
    this.release(nameState)
  }

  send(nameState: NameState, peer: Peer, messages: Uint8Array | readonly Uint8Array[]): boolean {
    const link = this.links.get(peer)
    if (link === undefined) throw errors.unknownPeer(toHex(peer.remotePublicKey))
    return this.accept(link, nameState, messages)
  }

  broadcast(nameState: NameState, bytes: Uint8Array): boolean {
    let room = true
    for (const link of this.links.values()) room = this.accept(link, nameState, bytes) && room
    return room
  }

  drained(nameState: NameState): Promise<void> {
    if (this.isDrained(nameState)) return Promise.resolve()
    return new Promise<void>((resolve) => nameState.waiters.push(resolve))
  }

  report(err: NetworkerError): void {
    this.opts.onerror(err)
  }

  private accept(link: Link, nameState: NameState, messages: Uint8Array | readonly Uint8Array[]): boolean {
    const slot = link.lanes.get(nameState.key)
    // Not registered remotely (refused); while the connection is down a replacement may come.
    if (slot === undefined || slot.refused || (slot.channel === null && !link.stream.destroyed)) {
      nameState.counters.dropped += messages instanceof Uint8Array ? 1 : messages.length
      return true
    }
    const lane = slot.lane
    if (messages instanceof Uint8Array) lane.accept(messages)
    else for (let i = 0; i < messages.length; i++) lane.accept(messages[i])
    link.writer.pump(slot)
    return lane.hasRoom
  }

  /** Every lane of the name at most three quarters full (so a waiting sender refills in bulk). */
  private isDrained(nameState: NameState): boolean {
    for (const link of this.links.values()) {
      const slot = link.lanes.get(nameState.key)
      if (slot !== undefined && !slot.lane.drained) return false
    }
    return true
  }

  private release(nameState: NameState): void {
    if (nameState.waiters.length === 0 || (this.names.get(nameState.key) === nameState && !this.isDrained(nameState))) return
    for (const resolve of nameState.waiters.splice(0)) resolve()
  }

  /** Pairs the extension protocol on the link's muxer and opens every extension channel. */
  private wire(link: Link): void {
    const { mux } = link
    mux.pair({ protocol: EXTENSION_PROTOCOL }, (id) => {
      // Runs synchronously inside Protomux: it must never throw or wait.
      if (id === null || this.links.get(link.peer) !== link || link.mux !== mux) return
      const nameState = this.names.get(Buffer.from(id).toString('latin1'))
      if (nameState !== undefined) this.openLane(link, nameState)
    })
    for (const nameState of this.names.values()) this.openLane(link, nameState)
  }

  private openLane(link: Link, nameState: NameState): void {
    if (link.stream.destroyed) return
    let slot = link.lanes.get(nameState.key)
    if (slot === undefined) {
      slot = createSlot(nameState, this.window)
      link.lanes.set(nameState.key, slot)
    }
    if (slot.channel !== null && !slot.channel.closed) return
    const owner = slot
    let expect = 0 // the sequence number of the next DATA on this channel
    const channel = link.mux.createChannel({
      protocol: EXTENSION_PROTOCOL,
      id: nameState.id,
      unique: true,
      messages: [
        { encoding: c.raw, onmessage: (bytes: Uint8Array) => this.inbound.arrive(link, owner, expect++, bytes) },
        { encoding: c.raw, onmessage: (bytes: Uint8Array) => this.acked(link, owner, bytes) },
        {
          encoding: c.raw,
          onmessage: (bytes: Uint8Array) => {
            const resume = this.inbound.decode(link, nameState, bytes, decodeResume)
            if (resume === null) return
            expect = resume.seq
            const missing = owner.lane.resume(resume.seq, resume.epoch)
            if (missing > 0) this.inbound.fail(nameState, errors.gap(nameState.name, link.remoteKey(), missing))
            link.writer.schedule(owner) // acknowledge again what the old connection may have lost
          }
        }
      ],
      onclose: () => {
        if (owner.channel !== channel) return
        this.unlink(owner)
        // The connection closed: keep the window for a replacement. The remote refused or
        // closed the channel (it has not registered the extension, or destroyed it).
        if (link.stream.destroyed || this.links.get(link.peer) !== link || link.lanes.get(nameState.key) !== owner) return
        owner.refused = true
        const lost = owner.lane.drop()
        nameState.counters.dropped += lost
        if (lost > 0 && channel !== null && channel.opened) {
          this.opts.onerror(errors.undelivered(nameState.name, link.remoteKey(), lost, 'the remote closed the extension'))
        }
        this.release(nameState)
      }
    })
    if (channel === null) return
    const batch = channel.addMessage<BatchWire>({
      encoding: batchEncoding,
      onmessage: (bytes: BatchWire) => {
        if (bytes instanceof Uint8Array) expect = this.inbound.arriveBatch(link, owner, expect, bytes)
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
    slot.nameState.counters.dropped += lost
    this.opts.onerror(errors.undelivered(slot.nameState.name, link.remoteKey(), lost, reason))
    this.release(slot.nameState)
  }

  private acked(link: Link, slot: Slot, bytes: Uint8Array): void {
    const upTo = this.inbound.decode(link, slot.nameState, bytes, decodeAck)
    if (upTo === null) return
    if (slot.lane.ack(upTo) === 'invalid') {
      this.inbound.fail(slot.nameState, errors.decode(slot.nameState.name, link.remoteKey(), new Error(`acknowledgement ${upTo} out of range`)))
      return
    }
    link.writer.pump(slot) // the window has room again
    this.release(slot.nameState)
  }
}
