/**
 * The raw hostile peer of the fuzzer: dials the victim straight through the DHT (no Hyperswarm
 * of its own, a fresh key pair per peer unless it reconnects with the same one), puts a Protomux
 * on the connection and carries out a sequence of actions (test/fuzz/actions.ts) on it: frames
 * through its own channels, and raw frames under them.
 *
 * It behaves like a peer where that makes the actions reach deeper: it accepts the victim's
 * extension channels (as a peer that registered every extension would), waits for its own
 * channels to open, and keeps the counters that relative numbers are taken from (what the
 * victim sent it, what it sent). It never acknowledges anything unless an action says so.
 */
import Protomux from 'protomux'
import c from 'compact-encoding'
import HyperDHT from 'hyperdht'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { randomBytes } from 'crypto'
import { EXTENSION_PROTOCOL } from '../../lib/extensions/limits'
import { KEEPALIVE_PROTOCOL } from '../../lib/keepalive'
import { BatchReader } from '../../lib/extensions/wire'
import { CANARY_EXTENSION, FUZZ_BINARY_EXTENSION, FUZZ_EXTENSION } from './protocol'
import { Action, BatchSpec, ChannelRef, EpochSpec, NameRef, Payload, RawFrame, Sequence, describeAction, encodeUint } from './actions'

/** The part of a HyperDHT node the hostile peer dials with (hyperdht's `connect`). */
export interface Dialler {
  connect(remotePublicKey: Buffer, opts: { keyPair: HyperDHT.KeyPair }): NoiseSecretStream
}

/** What the hostile side did, summed over a campaign. */
export interface HostileCounters {
  /** Frames written: Protomux messages, channel opens and closes, raw frames. */
  frames: number
  /** Application messages inside them (a `BATCH` of n counts n). */
  messages: number
  /** Payload bytes written (what the frames carried, before Protomux and Noise framing). */
  bytes: number
  /** Connections opened to the victim. */
  connections: number
  /** Dials that did not open in time. */
  failedDials: number
  /** Actions skipped because the connection was gone (the victim closed it, or a raw frame killed it). */
  skipped: number
  /** Sequences cut short because the victim stopped reading from us. */
  stalls: number
  /** Actions that threw on our side (a fuzzer bug, not the victim's): how many, and the first few. */
  ownErrors: number
  ownErrorMessages: string[]
}

export function createCounters(): HostileCounters {
  return { frames: 0, messages: 0, bytes: 0, connections: 0, failedDials: 0, skipped: 0, stalls: 0, ownErrors: 0, ownErrorMessages: [] }
}

export interface HostileOptions {
  /** ms to wait for a dial, a channel open or a drained write. */
  readonly deadlineMs?: number
}

/** An extension channel of ours and what the victim sent on it. */
interface ExtChannel {
  readonly channel: Protomux.Channel
  /** The victim's resume point on this channel, and messages received since. */
  victimSeq: number
  received: number
}

/** What we sent on one name, across reconnections with the same key (our "session"). */
interface SendState {
  sent: bigint
  epoch: number
}

interface Connection {
  readonly conn: NoiseSecretStream
  readonly mux: Protomux
  readonly ext: Map<string, ExtChannel>
  keepAlive: Protomux.Channel | null
  closed: boolean
}

const NOOP = (): void => {}
const UNKNOWN_NAME = 'no-such-extension'
const EXTRA_TYPES = 4 // our extension channels also have message types 4…7, which the protocol lacks

function idOf(name: NameRef): Buffer {
  if (typeof name !== 'string') return Buffer.from(name.id)
  if (name === 'unknown') return Buffer.from(UNKNOWN_NAME)
  return Buffer.from(name === 'fuzz' ? FUZZ_EXTENSION : name === 'fuzz-bin' ? FUZZ_BINARY_EXTENSION : CANARY_EXTENSION)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves with the first of `promise` and a timeout (then with `fallback`). */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms)
  })
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== null) clearTimeout(timer)
  })
}

function concat(parts: ReadonlyArray<Uint8Array>): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)))
}

export class HostilePeer {
  private keyPair: HyperDHT.KeyPair = HyperDHT.keyPair()
  private current: Connection | null = null
  private readonly sessions = new Map<string, SendState>()
  private jsonCounter = 0
  private readonly deadlineMs: number

  constructor(
    private readonly dialler: Dialler,
    private readonly victimKey: Buffer,
    private readonly counters: HostileCounters,
    opts: HostileOptions = {}
  ) {
    this.deadlineMs = opts.deadlineMs ?? 5000
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.current !== null && !this.current.closed
  }

  /** Dials the victim (again: with the same key pair, or a fresh one). */
  async connect(sameKey = true): Promise<boolean> {
    this.drop()
    if (!sameKey) {
      this.keyPair = HyperDHT.keyPair()
      this.sessions.clear()
    }
    const conn = this.dialler.connect(this.victimKey, { keyPair: this.keyPair })
    conn.on('error', NOOP)
    const connection: Connection = { conn, mux: Protomux.from(conn), ext: new Map(), keepAlive: null, closed: false }
    conn.once('close', () => (connection.closed = true))
    this.current = connection
    // Accept the victim's extension channels, as a peer that registered every extension would.
    connection.mux.pair({ protocol: EXTENSION_PROTOCOL }, (id) => {
      if (id !== null && !connection.closed) this.openExt(connection, id)
    })
    const opened = await within(
      new Promise<boolean>((resolve) => {
        conn.once('open', () => resolve(true))
        conn.once('close', () => resolve(false))
      }),
      this.deadlineMs,
      false
    )
    if (!opened) {
      this.counters.failedDials++
      this.drop()
      return false
    }
    this.counters.connections++
    return true
  }

  /**
   * Runs a sequence on a fresh connection (the connection stays open, see `close`); false if the
   * victim could not be dialled (twice).
   */
  async run(seq: Sequence, shouldStop: () => boolean = () => false): Promise<boolean> {
    if (!(await this.connect(false)) && !(await this.connect(false))) return false
    for (const action of seq) {
      if (shouldStop()) return true
      const connection = this.current
      if (connection === null || connection.closed) {
        if (action.t === 'reconnect') await this.connect(action.sameKey)
        else if (action.t !== 'wait') this.counters.skipped++
        continue
      }
      try {
        await this.act(connection, action)
      } catch (err) {
        this.counters.ownErrors++
        if (this.counters.ownErrorMessages.length < 5) this.counters.ownErrorMessages.push(`${describeAction(action)}: ${err instanceof Error ? err.stack : String(err)}`)
      }
      if (!connection.closed && connection.conn.writableNeedDrain) {
        const drained = await within(
          new Promise<boolean>((resolve) => {
            connection.conn.once('drain', () => resolve(true))
            connection.conn.once('close', () => resolve(true))
          }),
          this.deadlineMs,
          false
        )
        if (!drained) {
          this.counters.stalls++
          return true
        }
      }
    }
    return true
  }

  /** Closes the connection (the victim sees a remote close). */
  close(): void {
    this.drop()
  }

  private drop(): void {
    const connection = this.current
    this.current = null
    if (connection !== null && !connection.closed) connection.conn.destroy()
  }

  private async act(connection: Connection, action: Action): Promise<void> {
    switch (action.t) {
      case 'keepAliveOpen':
        return this.keepAliveOpen(connection)
      case 'keepAliveClose':
        if (connection.keepAlive !== null && !connection.keepAlive.closed) {
          connection.keepAlive.close()
          this.frame(0)
        }
        return
      case 'keepAlive': {
        const channel = connection.keepAlive ?? this.createKeepAlive(connection)
        if (channel === null) return
        const body = action.body instanceof Uint8Array ? action.body : encodeUint(action.body.value, action.body.form)
        this.send(channel, action.type, body)
        return
      }
      case 'extOpen':
        return this.extOpen(connection, action.name)
      case 'extClose': {
        const ext = connection.ext.get(idOf(action.name).toString('hex'))
        if (ext !== undefined && !ext.channel.closed) {
          ext.channel.close()
          this.frame(0)
        }
        return
      }
      case 'resume': {
        const ext = this.ext(connection, action.name)
        if (ext === null) return
        const session = this.session(action.name)
        const seq = 'abs' in action.seq ? action.seq.abs : clamp(session.sent + BigInt(action.seq.rel))
        const epoch = this.epoch(session, action.epoch)
        this.send(ext.channel, 2, concat([encodeUint(seq, action.form), epoch]))
        session.sent = seq
        return
      }
      case 'data': {
        const ext = this.ext(connection, action.name)
        if (ext === null) return
        this.send(ext.channel, 0, this.payload(action.payload), 1)
        this.session(action.name).sent++
        return
      }
      case 'burst': {
        const ext = this.ext(connection, action.name)
        if (ext === null) return
        ext.channel.cork()
        for (let i = 0; i < action.count; i++) this.send(ext.channel, 0, this.payload({ kind: 'json' }), 1)
        ext.channel.uncork()
        this.session(action.name).sent += BigInt(action.count)
        return
      }
      case 'ack': {
        const ext = this.ext(connection, action.name)
        if (ext === null) return
        const upTo = 'abs' in action.upTo ? action.upTo.abs : clamp(BigInt(ext.victimSeq + ext.received + action.upTo.rel))
        this.send(ext.channel, 1, encodeUint(upTo, action.form))
        return
      }
      case 'batch': {
        const ext = this.ext(connection, action.name)
        if (ext === null) return
        const body = this.batch(action.batch)
        const count = countBatch(body)
        this.send(ext.channel, 3, body, count)
        this.session(action.name).sent += BigInt(count)
        return
      }
      case 'extType': {
        const ext = this.ext(connection, action.name)
        if (ext !== null) this.send(ext.channel, action.type, action.bytes)
        return
      }
      case 'raw':
        this.counters.frames++
        this.write(connection, this.rawFrame(connection, action.frame))
        return
      case 'wait':
        await sleep(action.ms)
        return
      case 'pause':
        connection.conn.pause()
        await sleep(action.ms)
        if (!connection.closed) connection.conn.resume()
        return
      case 'reconnect':
        await this.connect(action.sameKey)
        return
    }
  }

  // --- Channels -------------------------------------------------------------------------------

  private createKeepAlive(connection: Connection): Protomux.Channel | null {
    const channel = connection.mux.createChannel({
      protocol: KEEPALIVE_PROTOCOL,
      messages: [{ encoding: c.raw }, { encoding: c.raw }, { encoding: c.raw }],
      onclose: () => {
        if (connection.keepAlive === channel) connection.keepAlive = null
      }
    })
    if (channel === null) return null
    connection.keepAlive = channel
    channel.open()
    this.frame(0)
    return channel
  }

  private async keepAliveOpen(connection: Connection): Promise<void> {
    if (connection.keepAlive !== null && !connection.keepAlive.closed) return
    const channel = this.createKeepAlive(connection)
    if (channel !== null) await within(channel.fullyOpened(), this.deadlineMs, false)
  }

  /** Our channel for `id`: created (and opened) if there is none; null if Protomux refuses one now. */
  private openExt(connection: Connection, id: Buffer): ExtChannel | null {
    const key = id.toString('hex')
    const existing = connection.ext.get(key)
    if (existing !== undefined && !existing.channel.closed) return existing
    const onmessage = (handle: (ext: ExtChannel, bytes: Uint8Array) => void) => (bytes: Uint8Array) => {
      const ext = connection.ext.get(key)
      if (ext !== undefined && ext.channel === channel) handle(ext, bytes)
    }
    const channel = connection.mux.createChannel({
      protocol: EXTENSION_PROTOCOL,
      id,
      messages: [
        { encoding: c.raw, onmessage: onmessage((ext) => ext.received++) },
        { encoding: c.raw },
        {
          encoding: c.raw,
          onmessage: onmessage((ext, bytes) => {
            try {
              ext.victimSeq = c.decode(c.uint, bytes) as number
              ext.received = 0
            } catch {
              // the victim's own resume: never malformed
            }
          })
        },
        { encoding: c.raw, onmessage: onmessage((ext, bytes) => (ext.received += countBatch(bytes))) },
        ...Array.from({ length: EXTRA_TYPES }, () => ({ encoding: c.raw }))
      ]
    })
    if (channel === null) return null
    const ext: ExtChannel = { channel, victimSeq: 0, received: 0 }
    connection.ext.set(key, ext)
    channel.open()
    this.frame(0)
    return ext
  }

  private async extOpen(connection: Connection, name: NameRef): Promise<void> {
    const id = idOf(name)
    const key = id.toString('hex')
    const existing = connection.ext.get(key)
    if (existing !== undefined && !existing.channel.closed) return
    const ext = this.openExt(connection, id)
    if (ext === null) return
    if (await within(ext.channel.fullyOpened(), this.deadlineMs, false)) return
    // Refused (the victim had not admitted us yet): its own open may follow, which we accept.
    const deadline = Date.now() + Math.min(1000, this.deadlineMs)
    while (Date.now() < deadline && !connection.closed) {
      const now = connection.ext.get(key)
      if (now !== undefined && now.channel.opened && !now.channel.closed) return
      await sleep(20)
    }
  }

  /** The channel an action on `name` goes to: the open one, or a new one (not waited for). */
  private ext(connection: Connection, name: NameRef): ExtChannel | null {
    return this.openExt(connection, idOf(name))
  }

  private session(name: NameRef): SendState {
    const key = idOf(name).toString('hex')
    let session = this.sessions.get(key)
    if (session === undefined) {
      session = { sent: 0n, epoch: randomBytes(4).readUInt32LE(0) }
      this.sessions.set(key, session)
    }
    return session
  }

  private epoch(session: SendState, spec: EpochSpec): Uint8Array {
    if (spec.kind === 'bytes') return spec.bytes
    if (spec.kind === 'value') session.epoch = spec.value
    return c.encode(c.uint32, session.epoch)
  }

  // --- Bytes ----------------------------------------------------------------------------------

  private payload(p: Payload): Uint8Array {
    switch (p.kind) {
      case 'json':
        return Buffer.from(JSON.stringify({ x: this.jsonCounter++ }))
      case 'bytes':
        return p.bytes
      case 'text':
        return Buffer.from(p.text)
      case 'fill':
        return Buffer.alloc(p.size, p.byte)
    }
  }

  private batch(b: BatchSpec): Uint8Array {
    switch (b.kind) {
      case 'empties':
        return Buffer.alloc(b.count) // each zero byte: a message of length 0
      case 'messages':
        return concat(
          b.payloads.flatMap((p) => {
            const bytes = this.payload(p)
            return [encodeUint(BigInt(bytes.byteLength)), bytes]
          })
        )
      case 'lengths':
        return concat([...b.lengths.map((l) => encodeUint(l.value, l.form)), b.tail])
      case 'bytes':
        return b.bytes
    }
  }

  private localId(connection: Connection, ref: ChannelRef): bigint {
    if ('abs' in ref) return ref.abs
    const channel = 'keepAlive' in ref ? connection.keepAlive : (connection.ext.get(idOf(ref.ext).toString('hex'))?.channel ?? null)
    const id = channel === null ? 0 : (channel as unknown as { _localId: number })._localId
    return BigInt(id > 0 ? id : 1)
  }

  private rawFrame(connection: Connection, f: RawFrame): Uint8Array {
    switch (f.kind) {
      case 'random':
        return f.bytes
      case 'empty':
        return new Uint8Array(0)
      case 'open': {
        const next = (connection.mux as unknown as { _local: unknown[] })._local.length + 1
        const protocol = f.protocol === 'ext' ? EXTENSION_PROTOCOL : f.protocol === 'keepalive' ? KEEPALIVE_PROTOCOL : f.protocol
        return concat([
          new Uint8Array([0, 1]),
          encodeUint(f.channelId === 'next' ? BigInt(next) : f.channelId),
          c.encode(c.string, protocol),
          c.encode(c.optionalBuffer, f.id === null ? null : Buffer.from(f.id))
        ])
      }
      case 'close':
        return concat([new Uint8Array([0, 3]), encodeUint(this.localId(connection, f.channel))])
      case 'reject':
        return concat([new Uint8Array([0, 2]), encodeUint(this.localId(connection, f.channel))])
      case 'muxBatch':
        return concat([
          new Uint8Array([0, 0]),
          encodeUint(this.localId(connection, f.channel)),
          ...f.parts.flatMap((p) => [encodeUint(p.length, p.form), p.bytes])
        ])
      case 'message':
        return concat([encodeUint(this.localId(connection, f.channel)), encodeUint(f.type, f.typeForm), f.body])
    }
  }

  private send(channel: Protomux.Channel, type: number, bytes: Uint8Array, messages = 0): void {
    if (channel.closed) {
      this.counters.skipped++
      return
    }
    channel.messages[type].send(bytes)
    this.frame(bytes.byteLength, messages)
  }

  private write(connection: Connection, bytes: Uint8Array): void {
    connection.conn.write(bytes)
    this.counters.bytes += bytes.byteLength
  }

  private frame(bytes: number, messages = 0): void {
    this.counters.frames++
    this.counters.bytes += bytes
    this.counters.messages += messages
  }
}

function clamp(n: bigint): bigint {
  return n < 0n ? 0n : n
}

/** How many messages the victim reads off a `BATCH` body (what `BatchReader` yields). */
function countBatch(bytes: Uint8Array): number {
  const reader = new BatchReader(bytes)
  let count = 0
  while (reader.next() !== null) count++
  return count
}
