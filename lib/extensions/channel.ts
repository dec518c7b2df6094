import Protomux from 'protomux'
import c from 'compact-encoding'
import { NetworkerError, errors } from '../errors'
import type { Codec } from '../encodings'
import type { Peer } from '../peer'
import type { PeerRecord } from '../peer-record'
import { toHex } from '../keys'
import type { ExtensionTraffic } from '../metrics/types'
import type { WindowLimits } from './lane'
import { Inbound } from './inbound'
import { DEFAULT_WINDOW, EXTENSION_PROTOCOL, nameBytes } from './limits'
import { Link, Slot, createLink, createSlot } from './link'
import type { ReceiveState } from './lane'
import {
  MAX_WIRE_SEQ,
  RECEIVE_MEMORY_ENTRIES,
  RECEIVE_MEMORY_MS,
  REFUSAL_GRACE_MS,
  STALL_MS,
  STALLED_WINDOWS
} from '../budgets'
import { Extension, ExtensionPort, NameState, Registration, createNameState } from './registry'
import { BatchWire, MSG_RESUME, batchEncoding, decodeAck, decodeResume, encodeResume } from './wire'

export interface ExtensionHubOptions {
  maxMessageSize: number
  onerror: (err: NetworkerError) => void
  /** The credit window per peer and extension (default `DEFAULT_WINDOW`). */
  window?: WindowLimits
}

/** One extension's traffic with one peer, by the extension's name (see `ExtensionHub.trafficWith`). */
export interface PeerExtensionTraffic extends ExtensionTraffic {
  readonly name: string
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
  /** A write failed at the end of a tick: that connection cannot go on. */
  private readonly fault = (link: Link, err: unknown): void => {
    this.opts.onerror(errors.connection(link.remoteKey(), err))
    link.stream.destroy()
  }
  /** Lanes whose window is full or that wait out a refusal: looked at by `sweep`. */
  private readonly watched = new Map<Slot, Link>()
  private sweeper: ReturnType<typeof setInterval> | null = null
  /** Receive states of removed peers' lanes, by remote key and name (see `RECEIVE_MEMORY_MS`). */
  private readonly remembered = new Map<string, { state: ReceiveState; at: number }>()

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

  /**
   * Read-only, for metrics: what each extension moved with one peer, by lane (one per extension
   * the peer has a lane for; lanes survive swaps). Empty for a peer that is not connected.
   */
  trafficWith(peer: Peer): PeerExtensionTraffic[] {
    const link = this.links.get(peer)
    if (link === undefined) return []
    const traffic: PeerExtensionTraffic[] = []
    for (const slot of link.lanes.values()) {
      const { sent, resent, received, dropped } = slot.traffic
      const inFlight = slot.lane.inFlightMessages
      traffic.push({ name: slot.nameState.name, sent, resent, received, dropped, queued: slot.lane.unacknowledged - inFlight, inFlight })
    }
    return traffic
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
    const link = createLink(peer, this.endTurn, this.fault)
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
    for (const slot of link.lanes.values()) {
      this.remember(link, slot)
      this.close(link, slot, 'the peer is gone')
    }
  }

  /** Completes every registration; unacknowledged messages are reported. */
  destroy(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.inbound.close()
    this.stopSweeper()
    this.watched.clear()
    this.remembered.clear()
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
    const count = messages instanceof Uint8Array ? 1 : messages.length
    if (slot === undefined || (slot.refused && slot.refusedAt === 0) || (!slot.refused && slot.channel === null && !link.stream.destroyed)) {
      // Not registered remotely (refused, grace over); while the connection is down a replacement may come.
      if (slot === undefined) nameState.counters.dropped += count
      else {
        countDropped(slot, count)
        if (slot.refused) slot.droppedWhileRefused += count
      }
      return true
    }
    const lane = slot.lane
    // Held while a refusal may still turn into an open (one window), or while stalled (`STALLED_WINDOWS`).
    const cap = slot.refused ? 1 : slot.stalled ? STALLED_WINDOWS : Infinity
    const { messages: maxMessages, bytes: maxBytes } = this.window
    let refused = 0
    for (let i = 0; i < count; i++) {
      if (lane.unacknowledged >= cap * maxMessages || lane.unacknowledgedBytes >= cap * maxBytes) {
        refused = count - i
        break
      }
      lane.accept(messages instanceof Uint8Array ? messages : messages[i])
    }
    if (refused > 0) {
      countDropped(slot, refused)
      if (slot.refused) slot.droppedWhileRefused += refused
      else slot.shed += refused
    }
    link.writer.pump(slot)
    if (!lane.hasRoom && slot.fullSince === 0) {
      slot.fullSince = Date.now()
      this.watch(link, slot)
    }
    return lane.hasRoom || slot.stalled || slot.refused
  }

  /**
   * Every lane of the name at most three quarters full (so a waiting sender refills in bulk),
   * except stalled ones: nobody waits for a peer that stopped reading.
   */
  private isDrained(nameState: NameState): boolean {
    for (const link of this.links.values()) {
      const slot = link.lanes.get(nameState.key)
      if (slot !== undefined && !slot.stalled && !slot.refused && !slot.lane.drained) return false
    }
    return true
  }

  private watch(link: Link, slot: Slot): void {
    this.watched.set(slot, link)
    if (this.sweeper !== null || this.isClosed) return
    this.sweeper = setInterval(() => this.sweep(), Math.min(STALL_MS, REFUSAL_GRACE_MS) / 4)
    this.sweeper.unref()
  }

  private stopSweeper(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper)
    this.sweeper = null
  }

  /**
   * Every quarter of the stall deadline: lanes full with no acknowledgement for `STALL_MS`
   * become stalled (reported once; waiting senders are released), and refusals whose grace is
   * over drop what they held.
   */
  private sweep(): void {
    const now = Date.now()
    for (const [slot, link] of this.watched) {
      if (!slot.alive || this.links.get(link.peer) !== link) {
        this.watched.delete(slot)
        continue
      }
      if (slot.refused) {
        if (slot.refusedAt > 0 && now - slot.refusedAt >= REFUSAL_GRACE_MS) {
          // The remote never opened the extension: it has not registered it. Counted, not an error.
          slot.refusedAt = 0
          const lost = slot.lane.drop()
          countDropped(slot, lost)
          slot.droppedWhileRefused += lost
          this.watched.delete(slot)
          this.release(slot.nameState)
        } else if (slot.refusedAt === 0) this.watched.delete(slot)
        continue
      }
      if (slot.fullSince === 0) {
        this.watched.delete(slot)
        continue
      }
      // Only a connected lane can be judged: during a swap nothing can be acknowledged.
      if (slot.channel === null || !slot.channel.opened) {
        slot.fullSince = now
        continue
      }
      if (!slot.stalled && now - slot.fullSince >= STALL_MS) {
        slot.stalled = true
        this.opts.onerror(errors.stalled(slot.nameState.name, link.remoteKey(), now - slot.fullSince))
        this.release(slot.nameState)
      }
    }
    if (this.watched.size === 0) this.stopSweeper()
  }

  /** The lane was acknowledged: no longer full, or full since now; a stall ends. */
  private progressed(link: Link, slot: Slot): void {
    slot.fullSince = slot.lane.hasRoom ? 0 : Date.now()
    if (!slot.stalled) return
    slot.stalled = false
    this.reportShed(link, slot)
  }

  private reportShed(link: Link, slot: Slot): void {
    const shed = slot.shed
    if (shed === 0) return
    slot.shed = 0
    this.opts.onerror(errors.undelivered(slot.nameState.name, link.remoteKey(), shed, 'refused while the peer stopped reading'))
  }

  /** Keeps what this side delivered of a removed peer's lane, for a swap only the remote saw. */
  private remember(link: Link, slot: Slot): void {
    const state = slot.lane.receiveState()
    if (state === null) return
    const key = memoryKey(link, slot)
    this.remembered.delete(key)
    this.remembered.set(key, { state, at: Date.now() })
    if (this.remembered.size > RECEIVE_MEMORY_ENTRIES) this.remembered.delete(this.remembered.keys().next().value as string)
  }

  /** A new lane continues what a removed lane of the same peer and name delivered, if recent. */
  private recall(link: Link, slot: Slot): void {
    const key = memoryKey(link, slot)
    const entry = this.remembered.get(key)
    if (entry === undefined) return
    this.remembered.delete(key)
    if (Date.now() - entry.at <= RECEIVE_MEMORY_MS) slot.lane.restoreReceive(entry.state)
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
      this.recall(link, slot)
    }
    if (slot.channel !== null && !slot.channel.closed) return
    const owner = slot
    let expect = 0 // the sequence number of the next DATA on this channel
    let resumed = false // every channel starts with the remote's RESUME
    /** Whether a DATA or BATCH may be read now: the remote resumed, and the connection is up. */
    const readable = (): boolean => {
      if (link.stream.destroying) return false
      if (!resumed) this.inbound.violation(link, nameState, 'data before its RESUME')
      return resumed
    }
    const channel = link.mux.createChannel({
      protocol: EXTENSION_PROTOCOL,
      id: nameState.id,
      unique: true,
      messages: [
        {
          encoding: c.raw,
          onmessage: (bytes: Uint8Array) => {
            if (readable()) this.inbound.arrive(link, owner, expect++, bytes)
          }
        },
        {
          encoding: c.raw,
          onmessage: (bytes: Uint8Array) => {
            if (!link.stream.destroying) this.acked(link, owner, bytes)
          }
        },
        {
          encoding: c.raw,
          onmessage: (bytes: Uint8Array) => {
            if (link.stream.destroying) return
            const resume = this.inbound.decode(link, nameState, bytes, decodeResume)
            if (resume === null) return
            if (!Number.isSafeInteger(resume.seq) || resume.seq > MAX_WIRE_SEQ) {
              this.inbound.violation(link, nameState, `resume at ${resume.seq}, above ${MAX_WIRE_SEQ}`)
              return
            }
            resumed = true
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
        // The connection closed: keep the window for a replacement.
        if (link.stream.destroyed || this.links.get(link.peer) !== link || link.lanes.get(nameState.key) !== owner) return
        owner.refused = true
        if (channel !== null && !channel.opened) {
          // Refused before it ever opened: the remote may not have admitted the connection yet.
          // Keep what was sent for the grace; the remote opens the channel once it does.
          owner.refusedAt = Date.now()
          this.watch(link, owner)
          return
        }
        // The remote closed the extension (destroyed it): what it did not acknowledge is lost.
        this.reportShed(link, owner)
        owner.stalled = false
        owner.fullSince = 0
        const lost = owner.lane.drop()
        countDropped(owner, lost)
        if (lost > 0) this.opts.onerror(errors.undelivered(nameState.name, link.remoteKey(), lost, 'the remote closed the extension'))
        this.release(nameState)
      }
    })
    if (channel === null) return
    const batch = channel.addMessage<BatchWire>({
      encoding: batchEncoding,
      onmessage: (bytes: BatchWire) => {
        if (bytes instanceof Uint8Array && readable()) expect = this.inbound.arriveBatch(link, owner, expect, bytes)
      }
    })
    slot.channel = channel
    slot.batch = batch
    if (slot.refused) {
      // The remote opened the channel after refusing ours: what was dropped meanwhile is reported.
      slot.refused = false
      slot.refusedAt = 0
      const dropped = slot.droppedWhileRefused
      slot.droppedWhileRefused = 0
      if (dropped > 0) this.opts.onerror(errors.undelivered(nameState.name, link.remoteKey(), dropped, 'sent before the remote opened the extension'))
    }
    if (slot.fullSince !== 0) slot.fullSince = Date.now()
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
    this.watched.delete(slot)
    this.reportShed(link, slot)
    const channel = slot.channel
    this.unlink(slot)
    channel?.close()
    const lost = slot.lane.drop()
    if (lost === 0) return
    countDropped(slot, lost)
    this.opts.onerror(errors.undelivered(slot.nameState.name, link.remoteKey(), lost, reason))
    this.release(slot.nameState)
  }

  private acked(link: Link, slot: Slot, bytes: Uint8Array): void {
    const upTo = this.inbound.decode(link, slot.nameState, bytes, decodeAck)
    if (upTo === null) return
    const result = slot.lane.ack(upTo)
    if (result === 'invalid') {
      this.inbound.violation(link, slot.nameState, `acknowledgement ${upTo} of messages never sent`)
      return
    }
    if (result === 'stale') return
    link.writer.pump(slot) // the window has room again
    this.progressed(link, slot)
    this.release(slot.nameState)
  }
}

/** Messages of a lane that will not be delivered: counted for the lane and its extension. */
function countDropped(slot: Slot, count: number): void {
  slot.nameState.counters.dropped += count
  slot.traffic.dropped += count
}

/** Where a removed lane's receive state is remembered: its peer and extension. */
function memoryKey(link: Link, slot: Slot): string {
  return `${link.remoteKey()}:${slot.nameState.key}`
}
