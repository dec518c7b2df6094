import Protomux from 'protomux'
import c from 'compact-encoding'
import b4a from 'b4a'
import { randomBytes } from 'crypto'
import { Observable, Subject } from 'rxjs'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { NetworkerError, errors } from './errors'
import type { Codec } from './encodings'
import type { Peer } from './peer'
import type { PeerRecord } from './peer-record'
import type { Extension, ExtensionMessage, ExtensionStats } from './extension-types'
import { toHex } from './keys'

/** Protomux protocol of extension channels; the channel id is the extension name. */
export const EXTENSION_PROTOCOL = '@basestore/networker/extension'
/** Protomux protocol on which each side asks the other for keep-alives (see `timeout`). */
export const KEEPALIVE_PROTOCOL = '@basestore/networker/keepalive'
/** Default `maxMessageSize`: 4 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024

/** The receiver acknowledges every this many messages, so the sender can trim its outbox. */
const ACK_EVERY = 64
/** The unacknowledged messages a sender keeps to resend after a connection swap. */
const OUTBOX_MAX_MESSAGES = 1024
const OUTBOX_MAX_BYTES = 8 * 1024 * 1024
/** The fastest keep-alive a remote may ask us for. */
const MIN_KEEPALIVE = 100

// Wire messages of an extension channel, in this order (all raw bytes, decoded here).
const MSG_DATA = 0
const MSG_ACK = 1
const MSG_RESUME = 2

export type { Extension, ExtensionMessage, ExtensionStats } from './extension-types'

interface NameState {
  readonly name: string
  readonly id: Buffer
  readonly registrations: Registration<unknown>[]
  sent: number
  received: number
  dropped: number
}

/** One extension name on one peer: the channel of the current connection and the resend state. */
interface Lane {
  readonly ns: NameState
  channel: Protomux.Channel | null
  // Sending side.
  readonly epoch: number
  nextSeq: number
  /** Unacknowledged messages, oldest first; `outbox[i]` has sequence number `outboxBase + i`. */
  outbox: Uint8Array[]
  outboxBase: number
  outboxHead: number
  outboxBytes: number
  // Receiving side (survives connection swaps).
  recvEpoch: number | null
  delivered: number
  lastAcked: number
}

/** The channels of one peer on its current connection. */
interface PeerLink {
  readonly peer: Peer
  stream: NoiseSecretStream
  mux: Protomux
  readonly lanes: Map<string, Lane>
}

export interface ExtensionHubOptions {
  maxMessageSize: number
  /** ms; when set, peers are asked for keep-alives at a third of it and silent ones time out. */
  timeout: number
  onerror: (err: NetworkerError) => void
}

/**
 * Owns every Protomux channel of the networker: extension channels and the keep-alive channel.
 *
 * Delivery across a deduplicated connection swap: each sender numbers its messages per peer and
 * extension (with a random epoch per peer session) and keeps the unacknowledged ones; on the
 * replacement connection it announces where it resumes and sends them again, and the receiver
 * skips what it already delivered. No loss, no duplicates, no per-message header: the numbers
 * are implicit in the channel's order.
 */
export class ExtensionHub {
  private readonly names = new Map<string, NameState>()
  private readonly links = new Map<Peer, PeerLink>()
  private closed = false

  constructor(private readonly opts: ExtensionHubOptions) {}

  /** Registers an extension; channels open on every current peer at once. */
  register<T>(name: string, codec: Codec<T>): Extension<T> {
    let found = this.names.get(name)
    if (found === undefined) {
      found = { name, id: Buffer.from(name), registrations: [], sent: 0, received: 0, dropped: 0 }
      this.names.set(name, found)
    }
    const ns = found
    const registration = new Registration<T>(this, ns, codec)
    ns.registrations.push(registration as Registration<unknown>)
    if (ns.registrations.length === 1) {
      for (const link of this.links.values()) this.openLane(link, ns)
    }
    return registration
  }

  /**
   * Every connection as it opens, before authentication and dedup: arms the idle time-out and
   * opens the keep-alive channel, for the connection's whole life.
   *
   * With a `timeout`, silence counts from the first moment. A remote that runs this protocol
   * answers the channel at once and then keeps alive at `timeout / 3`; one that rejects it (a
   * plain Hyperswarm peer) gets the default keep-alive back; one that never answers (a half-open
   * connection, a mute peer) stays silent and times out, instead of lingering until the
   * transport gives up (~13 s).
   */
  guard(stream: NoiseSecretStream): void {
    if (stream.destroyed) return
    const mux = Protomux.from(stream)
    if (this.opts.timeout > 0) stream.setTimeout(this.opts.timeout)
    // Always paired, even without our own timeout: the remote may ask us for keep-alives.
    mux.pair({ protocol: KEEPALIVE_PROTOCOL }, () => this.openKeepAlive(stream, mux))
    this.openKeepAlive(stream, mux)
  }

  /** A new peer: pair the protocols and open every registered extension, before it is announced. */
  attach(peer: PeerRecord): void {
    const link: PeerLink = { peer, stream: peer.stream, mux: Protomux.from(peer.stream), lanes: new Map() }
    this.links.set(peer, link)
    this.wire(link)
  }

  /** The peer moved to a replacement connection: reopen its channels there and resend. */
  swap(peer: PeerRecord): void {
    const link = this.links.get(peer)
    if (link === undefined) return this.attach(peer)
    for (const lane of link.lanes.values()) lane.channel = null
    link.stream = peer.stream
    link.mux = Protomux.from(peer.stream)
    this.wire(link)
  }

  /** The peer is gone. */
  detach(peer: Peer): void {
    const link = this.links.get(peer)
    if (link === undefined) return
    this.links.delete(peer)
    link.mux.unpair({ protocol: EXTENSION_PROTOCOL })
    for (const lane of link.lanes.values()) {
      lane.channel?.close()
      lane.channel = null
    }
  }

  /** Completes every registration. */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const peer of [...this.links.keys()]) this.detach(peer)
    for (const ns of this.names.values()) {
      for (const registration of [...ns.registrations]) registration.destroy()
    }
  }

  isClosed(): boolean {
    return this.closed
  }

  /** @internal */
  unregister(registration: Registration<unknown>, ns: NameState): void {
    const index = ns.registrations.indexOf(registration)
    if (index === -1) return
    ns.registrations.splice(index, 1)
    if (ns.registrations.length > 0) return
    this.names.delete(ns.name)
    for (const link of this.links.values()) {
      const lane = link.lanes.get(ns.name)
      if (lane === undefined) continue
      link.lanes.delete(ns.name)
      lane.channel?.close()
      lane.channel = null
    }
  }

  /** @internal Encoded bytes to one peer. */
  sendBytes(ns: NameState, peer: Peer, bytes: Uint8Array): boolean {
    const link = this.links.get(peer)
    if (link === undefined) throw errors.unknownPeer(toHex(peer.remotePublicKey))
    if (bytes.byteLength > this.opts.maxMessageSize) throw errors.tooLarge(bytes.byteLength, this.opts.maxMessageSize)
    return this.write(link, ns, bytes)
  }

  /** @internal Encoded bytes to one peer, corked into one batch. */
  sendManyBytes(ns: NameState, peer: Peer, batch: Uint8Array[]): boolean {
    const link = this.links.get(peer)
    if (link === undefined) throw errors.unknownPeer(toHex(peer.remotePublicKey))
    for (const bytes of batch) {
      if (bytes.byteLength > this.opts.maxMessageSize) throw errors.tooLarge(bytes.byteLength, this.opts.maxMessageSize)
    }
    const lane = this.writableLane(link, ns)
    if (lane === null) {
      ns.dropped += batch.length
      return true
    }
    link.mux.cork()
    try {
      for (const bytes of batch) this.push(lane, bytes)
    } finally {
      link.mux.uncork()
    }
    return isDrained(link.mux)
  }

  /** @internal */
  broadcastBytes(ns: NameState, bytes: Uint8Array): boolean {
    if (bytes.byteLength > this.opts.maxMessageSize) throw errors.tooLarge(bytes.byteLength, this.opts.maxMessageSize)
    let drained = true
    for (const link of this.links.values()) drained = this.write(link, ns, bytes) && drained
    return drained
  }

  /** @internal */
  drained(): Promise<void> {
    const waits: Promise<void>[] = []
    for (const link of this.links.values()) {
      if (!isDrained(link.mux) && !link.stream.destroyed) waits.push(waitDrained(link))
    }
    return Promise.all(waits).then(() => undefined)
  }

  private write(link: PeerLink, ns: NameState, bytes: Uint8Array): boolean {
    const lane = this.writableLane(link, ns)
    if (lane === null) {
      ns.dropped++
      return true
    }
    this.push(lane, bytes)
    return isDrained(link.mux)
  }

  /** The lane to write to, or null when the remote has not registered the extension. */
  private writableLane(link: PeerLink, ns: NameState): Lane | null {
    const lane = link.lanes.get(ns.name)
    // While the connection is gone and a replacement may come, the outbox holds messages.
    if (lane === undefined || (lane.channel === null && !link.stream.destroyed)) return null
    return lane
  }

  private push(lane: Lane, bytes: Uint8Array): void {
    this.keep(lane, lane.nextSeq++, bytes)
    if (lane.channel === null) return
    lane.ns.sent++
    lane.channel.messages[MSG_DATA].send(bytes)
  }

  private keep(lane: Lane, seq: number, bytes: Uint8Array): void {
    if (lane.outbox.length === 0) lane.outboxBase = seq
    lane.outbox.push(bytes)
    lane.outboxBytes += bytes.byteLength
    while (
      lane.outbox.length - lane.outboxHead > OUTBOX_MAX_MESSAGES ||
      (lane.outboxBytes > OUTBOX_MAX_BYTES && lane.outbox.length - lane.outboxHead > 1)
    ) {
      lane.outboxBytes -= lane.outbox[lane.outboxHead++].byteLength
    }
    this.compact(lane)
  }

  private trim(lane: Lane, acked: number): void {
    while (lane.outboxHead < lane.outbox.length && lane.outboxBase + lane.outboxHead < acked) {
      lane.outboxBytes -= lane.outbox[lane.outboxHead++].byteLength
    }
    this.compact(lane)
  }

  private compact(lane: Lane): void {
    if (lane.outboxHead === lane.outbox.length) {
      lane.outbox = []
      lane.outboxHead = 0
    } else if (lane.outboxHead > 256 && lane.outboxHead * 2 > lane.outbox.length) {
      lane.outbox = lane.outbox.slice(lane.outboxHead)
      lane.outboxBase += lane.outboxHead
      lane.outboxHead = 0
    }
  }

  private clearOutbox(lane: Lane, countDropped: boolean): void {
    if (countDropped) lane.ns.dropped += lane.outbox.length - lane.outboxHead
    lane.outbox = []
    lane.outboxHead = 0
    lane.outboxBytes = 0
  }

  /** Pairs the extension protocol on the link's muxer and opens every extension channel. */
  private wire(link: PeerLink): void {
    const { mux } = link
    mux.pair({ protocol: EXTENSION_PROTOCOL }, (id) => {
      // Runs synchronously inside Protomux: it must never throw or wait.
      if (id === null || this.links.get(link.peer) !== link || link.mux !== mux) return
      const ns = this.names.get(b4a.toString(id))
      if (ns !== undefined) this.openLane(link, ns)
    })
    for (const ns of this.names.values()) this.openLane(link, ns)
  }

  private openKeepAlive(stream: NoiseSecretStream, mux: Protomux): void {
    const { timeout } = this.opts
    let opened = false
    const channel = mux.createChannel({
      protocol: KEEPALIVE_PROTOCOL,
      unique: true,
      messages: [
        {
          encoding: c.raw,
          onmessage: (bytes: Uint8Array) => {
            try {
              const ms = c.decode(c.uint, bytes)
              if (ms < MIN_KEEPALIVE) return
              if (!stream.keepAlive || ms < stream.keepAlive) stream.setKeepAlive(ms)
            } catch (err) {
              this.opts.onerror(errors.decode(KEEPALIVE_PROTOCOL, toHex(stream.remotePublicKey), err))
            }
          }
        }
      ],
      onopen: () => {
        opened = true
        if (!(timeout > 0) || stream.destroyed) return
        ch.messages[0].send(c.encode(c.uint, Math.max(MIN_KEEPALIVE, Math.floor(timeout / 3))))
        stream.setTimeout(timeout)
      },
      onclose: (isRemote) => {
        // Rejected: a plain Hyperswarm peer keeps alive at its default pace, so ours must not
        // cut it; back to the default. (A pair callback re-arms if the remote opens later.)
        if (!opened && isRemote && timeout > 0 && !stream.destroyed) stream.setTimeout(0)
      }
    })
    if (channel === null) return
    const ch = channel
    ch.open()
  }

  private openLane(link: PeerLink, ns: NameState): void {
    if (link.stream.destroyed) return
    let lane = link.lanes.get(ns.name)
    if (lane === undefined) {
      lane = {
        ns,
        channel: null,
        epoch: randomBytes(4).readUInt32LE(0),
        nextSeq: 0,
        outbox: [],
        outboxBase: 0,
        outboxHead: 0,
        outboxBytes: 0,
        recvEpoch: null,
        delivered: 0,
        lastAcked: 0
      }
      link.lanes.set(ns.name, lane)
    }
    if (lane.channel !== null && !lane.channel.closed) return
    const owner = lane
    const remoteKey = toHex(link.peer.remotePublicKey)
    let expect = 0
    const channel = link.mux.createChannel({
      protocol: EXTENSION_PROTOCOL,
      id: ns.id,
      unique: true,
      messages: [
        { encoding: c.raw, onmessage: (bytes: Uint8Array) => this.receive(link, owner, expect++, bytes, remoteKey) },
        {
          encoding: c.raw,
          onmessage: (bytes: Uint8Array) => {
            const acked = this.decodeUint(bytes, ns.name, remoteKey)
            if (acked !== null) this.trim(owner, acked)
          }
        },
        {
          encoding: c.raw,
          onmessage: (bytes: Uint8Array) => {
            const resume = this.decodeResume(bytes, ns.name, remoteKey)
            if (resume === null) return
            expect = resume.seq
            if (owner.recvEpoch !== resume.epoch) {
              owner.recvEpoch = resume.epoch
              owner.delivered = resume.seq
              owner.lastAcked = resume.seq
            } else if (resume.seq > owner.delivered) {
              owner.delivered = resume.seq
            }
          }
        }
      ],
      onclose: () => {
        if (owner.channel !== channel) return
        owner.channel = null
        // The connection closed: keep the outbox for a replacement. The remote closed or
        // refused the channel: what it did not read is dropped.
        if (!link.stream.destroyed || this.links.get(link.peer) !== link) {
          this.clearOutbox(owner, channel !== null && !channel.opened)
        }
      }
    })
    if (channel === null) return
    lane.channel = channel
    channel.open()
    const first = lane.outboxHead < lane.outbox.length ? lane.outboxBase + lane.outboxHead : lane.nextSeq
    channel.messages[MSG_RESUME].send(encodeResume(first, lane.epoch))
    for (let i = lane.outboxHead; i < lane.outbox.length; i++) {
      ns.sent++
      channel.messages[MSG_DATA].send(lane.outbox[i])
    }
  }

  private receive(link: PeerLink, lane: Lane, seq: number, bytes: Uint8Array, remoteKey: string): void {
    if (seq < lane.delivered) return // already delivered on the connection this one replaced
    lane.delivered = seq + 1
    if (lane.delivered - lane.lastAcked >= ACK_EVERY && lane.channel !== null) {
      lane.lastAcked = lane.delivered
      lane.channel.messages[MSG_ACK].send(c.encode(c.uint, lane.delivered))
    }
    const { ns } = lane
    ns.received++
    const target = ns.registrations[0]
    if (target === undefined) return
    if (bytes.byteLength > this.opts.maxMessageSize) {
      target.fail(errors.tooLarge(bytes.byteLength, this.opts.maxMessageSize, remoteKey))
      return
    }
    target.deliver(bytes, link.peer, remoteKey)
  }

  private decodeUint(bytes: Uint8Array, name: string, remoteKey: string): number | null {
    try {
      return c.decode(c.uint, bytes)
    } catch (err) {
      this.opts.onerror(errors.decode(name, remoteKey, err))
      return null
    }
  }

  private decodeResume(bytes: Uint8Array, name: string, remoteKey: string): { seq: number; epoch: number } | null {
    try {
      const state = { start: 0, end: bytes.byteLength, buffer: bytes }
      const seq = c.uint.decode(state)
      const epoch = c.uint32.decode(state)
      return { seq, epoch }
    } catch (err) {
      this.opts.onerror(errors.decode(name, remoteKey, err))
      return null
    }
  }

  /** @internal Routes an extension-scoped error to the registration and to `errors$`. */
  report(err: NetworkerError): void {
    this.opts.onerror(err)
  }
}

/**
 * Whether more may be written now. A muxer corked by someone else is not drained: Hypercore
 * keeps the shared muxer corked across a storage read while it serves blocks, and Protomux then
 * batches every send in memory, ahead of replication, and reports true.
 */
function isDrained(mux: Protomux): boolean {
  return mux.drained && mux.corked === 0
}

/** Resolves once the link's muxer is uncorked and its stream drained (or closed). */
function waitDrained(link: PeerLink): Promise<void> {
  return new Promise<void>((resolve) => {
    const check = (): void => {
      const { mux, stream } = link
      if (stream.destroyed || isDrained(mux)) return resolve()
      // Protomux has no uncork event: look again after the I/O that will uncork it.
      if (mux.corked > 0) return void setImmediate(check)
      const done = (): void => {
        stream.removeListener('drain', done)
        stream.removeListener('close', done)
        check()
      }
      stream.on('drain', done)
      stream.on('close', done)
    }
    check()
  })
}

function encodeResume(seq: number, epoch: number): Uint8Array {
  const state: { start: number; end: number; buffer: Uint8Array | null } = { start: 0, end: 0, buffer: null }
  c.uint.preencode(state, seq)
  c.uint32.preencode(state, epoch)
  const buffer = Buffer.allocUnsafe(state.end)
  state.buffer = buffer
  c.uint.encode(state, seq)
  c.uint32.encode(state, epoch)
  return buffer
}

/** The public side of one `registerExtension` call. */
class Registration<T> implements Extension<T> {
  private readonly messages = new Subject<ExtensionMessage<T>>()
  private readonly failures = new Subject<NetworkerError>()
  private isDestroyed = false

  readonly name: string
  readonly encoding: string
  readonly messages$: Observable<ExtensionMessage<T>> = this.messages.asObservable()
  readonly errors$: Observable<NetworkerError> = this.failures.asObservable()

  constructor(
    private readonly hub: ExtensionHub,
    private readonly ns: NameState,
    private readonly codec: Codec<T>
  ) {
    this.name = ns.name
    this.encoding = codec.name
  }

  get destroyed(): boolean {
    return this.isDestroyed
  }

  get stats(): ExtensionStats {
    const { sent, received, dropped } = this.ns
    return { sent, received, dropped }
  }

  send(message: T, peer: Peer): boolean {
    this.check()
    if (!isPeer(peer)) throw errors.invalidPeer(peer)
    return this.hub.sendBytes(this.ns, peer, this.encode(message))
  }

  sendMany(messages: Iterable<T>, peer: Peer): boolean {
    this.check()
    if (!isPeer(peer)) throw errors.invalidPeer(peer)
    const batch: Uint8Array[] = []
    for (const message of messages) batch.push(this.encode(message))
    return this.hub.sendManyBytes(this.ns, peer, batch)
  }

  broadcast(message: T): boolean {
    this.check()
    return this.hub.broadcastBytes(this.ns, this.encode(message))
  }

  drained(): Promise<void> {
    return this.hub.drained()
  }

  destroy(): void {
    if (this.isDestroyed) return
    this.isDestroyed = true
    this.hub.unregister(this as Registration<unknown>, this.ns)
    this.messages.complete()
    this.failures.complete()
  }

  /** @internal Decodes and emits one incoming message; a bad one becomes an error. */
  deliver(bytes: Uint8Array, peer: Peer, remoteKey: string): void {
    let message: T
    try {
      message = this.codec.decode(bytes)
    } catch (err) {
      this.fail(errors.decode(this.name, remoteKey, err))
      return
    }
    this.messages.next({ message, peer })
  }

  /** @internal */
  fail(err: NetworkerError): void {
    this.failures.next(err)
    this.hub.report(err)
  }

  private encode(message: T): Uint8Array {
    try {
      return this.codec.encode(message)
    } catch (err) {
      throw errors.encode(this.name, err)
    }
  }

  private check(): void {
    if (this.hub.isClosed()) throw errors.closed(`Extension "${this.name}"`)
    if (this.isDestroyed) throw errors.extensionDestroyed(this.name)
  }
}

function isPeer(value: unknown): value is Peer {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Partial<Peer>).remotePublicKey instanceof Uint8Array
  )
}
