/**
 * The fuzzer's model of a hostile peer: what it may do on one connection to the victim, as plain
 * data (so a sequence can be shrunk, printed and replayed), and the fast-check arbitraries that
 * generate sequences of it. test/fuzz/hostile.ts carries a sequence out on the wire.
 *
 * Channels (see lib/extensions/wire.ts and lib/keepalive.ts):
 * - extension/2, channel id = the extension name's UTF-8 bytes; messages DATA=0 (raw message),
 *   ACK=1 (uint), RESUME=2 (uint seq + uint32 epoch), BATCH=3 (uint length + bytes, repeated);
 * - keep-alive: message 0 (uint ms, a keep-alive request), message 1 (uint ms, a stall report);
 * - and under both, raw Protomux frames (control: 0 batch, 1 open, 2 reject, 3 close).
 *
 * Numbers are generated where bugs live: 0, one around each compact-encoding width (0xfc, 0xfd,
 * 0xffff, 2^32), 2^52, 2^53 − 1, 2^53, 2^64 − 1, random 64-bit values, and values relative to
 * what the connection has seen (an ack just beyond what the victim sent, a resume just before
 * or after what we sent). Each can be written minimally, in a wider form than needed,
 * truncated, or with trailing bytes.
 */
import fc from 'fast-check'
import { CANARY_EXTENSION, FUZZ_BINARY_EXTENSION, FUZZ_EXTENSION } from './protocol'

/** How a uint is written: compact-encoding's own form, a wider one, cut short, or with a tail. */
export type UintForm = 'min' | 'wide' | 'truncated' | 'trailing'

/** A number: absolute, or relative to a counter of the connection (see each action). */
export type NumSpec = { readonly abs: bigint } | { readonly rel: number }

/** Which extension channel an action is about. */
export type NameRef = 'fuzz' | 'fuzz-bin' | 'canary' | 'unknown' | { readonly id: Uint8Array }

/** An application message. */
export type Payload =
  /** Well-formed for every encoding: JSON `{"x":n}`. */
  | { readonly kind: 'json' }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  /** `size` bytes of `byte` (large messages without generating them byte by byte). */
  | { readonly kind: 'fill'; readonly size: number; readonly byte: number }
  | { readonly kind: 'text'; readonly text: string }

export type BatchSpec =
  /** `count` zero-length messages: one byte each on the wire. */
  | { readonly kind: 'empties'; readonly count: number }
  | { readonly kind: 'messages'; readonly payloads: readonly Payload[] }
  /** Lengths as written (possibly lying about what follows), then `tail`. */
  | { readonly kind: 'lengths'; readonly lengths: ReadonlyArray<{ readonly value: bigint; readonly form: UintForm }>; readonly tail: Uint8Array }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }

export type EpochSpec = { readonly kind: 'same' } | { readonly kind: 'value'; readonly value: number } | { readonly kind: 'bytes'; readonly bytes: Uint8Array }

/** A channel of the hostile muxer, by what it is or by a raw local id. */
export type ChannelRef = { readonly ext: NameRef } | { readonly keepAlive: true } | { readonly abs: bigint }

/** A frame written under Protomux, straight to the encrypted stream. */
export type RawFrame =
  | { readonly kind: 'random'; readonly bytes: Uint8Array }
  | { readonly kind: 'empty' }
  /** Control open: remote id `next` (the next free one, as Protomux expects) or a number. */
  | { readonly kind: 'open'; readonly channelId: 'next' | bigint; readonly protocol: 'ext' | 'keepalive' | string; readonly id: Uint8Array | null }
  | { readonly kind: 'close'; readonly channel: ChannelRef }
  | { readonly kind: 'reject'; readonly channel: ChannelRef }
  /** Control batch: `[0, 0, channel, (uint length, bytes)*]` with lengths as written. */
  | { readonly kind: 'muxBatch'; readonly channel: ChannelRef; readonly parts: ReadonlyArray<{ readonly length: bigint; readonly form: UintForm; readonly bytes: Uint8Array }> }
  | { readonly kind: 'message'; readonly channel: ChannelRef; readonly type: bigint; readonly typeForm: UintForm; readonly body: Uint8Array }

export type Action =
  /** Opens our keep-alive channel: what makes a raw peer a peer. */
  | { readonly t: 'keepAliveOpen' }
  | { readonly t: 'keepAliveClose' }
  /** Message 0 (keep-alive request), 1 (stall report) or an unknown type, with a uint body or bytes. */
  | { readonly t: 'keepAlive'; readonly type: number; readonly body: { readonly value: bigint; readonly form: UintForm } | Uint8Array }
  | { readonly t: 'extOpen'; readonly name: NameRef }
  | { readonly t: 'extClose'; readonly name: NameRef }
  /** A `RESUME`; `seq` relative to the messages we sent on this name. */
  | { readonly t: 'resume'; readonly name: NameRef; readonly seq: NumSpec; readonly form: UintForm; readonly epoch: EpochSpec }
  | { readonly t: 'data'; readonly name: NameRef; readonly payload: Payload }
  /** `count` well-formed `DATA` in a row (what an honest sender does). */
  | { readonly t: 'burst'; readonly name: NameRef; readonly count: number }
  /** An `ACK`; relative to what the victim sent us on this name (its resume point + messages received). */
  | { readonly t: 'ack'; readonly name: NameRef; readonly upTo: NumSpec; readonly form: UintForm }
  | { readonly t: 'batch'; readonly name: NameRef; readonly batch: BatchSpec }
  /** A message of a type the extension protocol does not have (4…7). */
  | { readonly t: 'extType'; readonly name: NameRef; readonly type: number; readonly bytes: Uint8Array }
  | { readonly t: 'raw'; readonly frame: RawFrame }
  | { readonly t: 'wait'; readonly ms: number }
  /** Stops reading the connection for `ms` (a slow or stalled reader: the victim's writes back up). */
  | { readonly t: 'pause'; readonly ms: number }
  /** Drops the connection and dials again, with the same key (a swap) or a fresh one (a new peer). */
  | { readonly t: 'reconnect'; readonly sameKey: boolean }

export type Sequence = readonly Action[]

/** Bounds of the generated sequences. */
export interface ModelOptions {
  /** The largest `BATCH` of empty messages, in messages (= bytes on the wire). Default 2 MiB. */
  readonly maxBatchBytes?: number
  /** The victim's `maxMessageSize`: payloads go up to a little beyond it. Default 64 KiB. */
  readonly maxMessageSize?: number
  /** Most actions after the opening. Default 24. */
  readonly maxActions?: number
  /** Generate actions on the `canary` extension too. Default false. */
  readonly canary?: boolean
}

const TWO = 2n
/** The values where integer bugs live. */
export const EDGE_VALUES: readonly bigint[] = [
  0n,
  1n,
  2n,
  0xfcn,
  0xfdn,
  0xffffn,
  0x10000n,
  TWO ** 32n - 1n,
  TWO ** 32n,
  TWO ** 52n,
  TWO ** 53n - 2n,
  TWO ** 53n - 1n,
  TWO ** 53n,
  TWO ** 64n - 1n
]

const uintFormArb: fc.Arbitrary<UintForm> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<UintForm>('min') },
  { weight: 1, arbitrary: fc.constantFrom<UintForm>('wide', 'truncated', 'trailing') }
)

const u64Arb: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...EDGE_VALUES) },
  // Just below the edges too: a few messages later the receiver's own numbers cross them.
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...EDGE_VALUES.slice(7)), fc.bigInt({ min: 1n, max: 4n })).map(([edge, k]) => edge - k) },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 300n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: TWO ** 64n - 1n }) }
)

const numArb: fc.Arbitrary<NumSpec> = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: -3, max: 12 }).map((rel): NumSpec => ({ rel })) },
  { weight: 1, arbitrary: u64Arb.map((abs): NumSpec => ({ abs })) }
)

function nameArb(canary: boolean): fc.Arbitrary<NameRef> {
  const known: NameRef[] = [FUZZ_EXTENSION, FUZZ_BINARY_EXTENSION, ...(canary ? [CANARY_EXTENSION as NameRef] : [])]
  return fc.oneof(
    // Mostly the lane the opening set up, so that what one action sets up the next one meets.
    { weight: 12, arbitrary: fc.constant<NameRef>(FUZZ_EXTENSION) },
    { weight: 4, arbitrary: fc.constantFrom<NameRef>(...known.slice(1)) },
    { weight: 1, arbitrary: fc.constant<NameRef>('unknown') },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 40 }).map((id): NameRef => ({ id })) }
  )
}

function payloadArb(maxMessageSize: number): fc.Arbitrary<Payload> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant<Payload>({ kind: 'json' }) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 48 }).map((bytes): Payload => ({ kind: 'bytes', bytes })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 24 }).map((text): Payload => ({ kind: 'text', text })) },
    {
      weight: 1,
      arbitrary: fc
        .record({
          size: fc.oneof(fc.constantFrom(0, maxMessageSize, maxMessageSize + 1), fc.integer({ min: 0, max: maxMessageSize + 4096 })),
          byte: fc.integer({ min: 0, max: 255 })
        })
        .map((p): Payload => ({ kind: 'fill', ...p }))
    }
  )
}

function batchArb(maxMessageSize: number, maxBatchBytes: number): fc.Arbitrary<BatchSpec> {
  const counts = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 2000 }) },
    { weight: 1, arbitrary: fc.constantFrom(...[64 * 1024, 512 * 1024, 1024 * 1024, maxBatchBytes].filter((n) => n <= maxBatchBytes)) },
    { weight: 1, arbitrary: fc.integer({ min: 2000, max: maxBatchBytes }) }
  )
  return fc.oneof(
    { weight: 3, arbitrary: fc.array(payloadArb(maxMessageSize), { maxLength: 12 }).map((payloads): BatchSpec => ({ kind: 'messages', payloads })) },
    { weight: 2, arbitrary: counts.map((count): BatchSpec => ({ kind: 'empties', count })) },
    {
      weight: 1,
      arbitrary: fc
        .record({ lengths: fc.array(fc.record({ value: u64Arb, form: uintFormArb }), { minLength: 1, maxLength: 4 }), tail: fc.uint8Array({ maxLength: 32 }) })
        .map((b): BatchSpec => ({ kind: 'lengths', ...b }))
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): BatchSpec => ({ kind: 'bytes', bytes })) }
  )
}

function channelRefArb(names: fc.Arbitrary<NameRef>): fc.Arbitrary<ChannelRef> {
  return fc.oneof(
    { weight: 3, arbitrary: names.map((ext): ChannelRef => ({ ext })) },
    { weight: 1, arbitrary: fc.constant<ChannelRef>({ keepAlive: true }) },
    { weight: 1, arbitrary: u64Arb.map((abs): ChannelRef => ({ abs })) }
  )
}

function rawFrameArb(names: fc.Arbitrary<NameRef>): fc.Arbitrary<RawFrame> {
  const channel = channelRefArb(names)
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes): RawFrame => ({ kind: 'random', bytes })) },
    { weight: 1, arbitrary: fc.constant<RawFrame>({ kind: 'empty' }) },
    {
      weight: 2,
      arbitrary: fc
        .record({
          channelId: fc.oneof({ weight: 3, arbitrary: fc.constant<'next'>('next') }, { weight: 1, arbitrary: u64Arb }),
          protocol: fc.oneof(fc.constantFrom('ext', 'keepalive'), fc.string({ maxLength: 12 })),
          id: fc.option(fc.oneof(fc.constantFrom(...[FUZZ_EXTENSION, FUZZ_BINARY_EXTENSION].map((n) => new Uint8Array(Buffer.from(n)))), fc.uint8Array({ maxLength: 16 })))
        })
        .map((f): RawFrame => ({ kind: 'open', ...f }))
    },
    { weight: 1, arbitrary: channel.map((c): RawFrame => ({ kind: 'close', channel: c })) },
    { weight: 1, arbitrary: channel.map((c): RawFrame => ({ kind: 'reject', channel: c })) },
    {
      weight: 1,
      arbitrary: fc
        .record({
          channel,
          parts: fc.array(fc.record({ length: u64Arb, form: uintFormArb, bytes: fc.uint8Array({ maxLength: 24 }) }), { minLength: 1, maxLength: 4 })
        })
        .map((f): RawFrame => ({ kind: 'muxBatch', ...f }))
    },
    {
      weight: 2,
      arbitrary: fc
        .record({ channel, type: u64Arb, typeForm: uintFormArb, body: fc.uint8Array({ maxLength: 32 }) })
        .map((f): RawFrame => ({ kind: 'message', ...f }))
    }
  )
}

/** One action of a hostile peer. */
export function actionArb(opts: ModelOptions = {}): fc.Arbitrary<Action> {
  const { maxBatchBytes = 2 * 1024 * 1024, maxMessageSize = 64 * 1024, canary = false } = opts
  const name = nameArb(canary)
  const uintBody = fc.record({ value: u64Arb, form: uintFormArb })
  const epoch: fc.Arbitrary<EpochSpec> = fc.oneof(
    { weight: 3, arbitrary: fc.constant<EpochSpec>({ kind: 'same' }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffffffff }).map((value): EpochSpec => ({ kind: 'value', value })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }).map((bytes): EpochSpec => ({ kind: 'bytes', bytes })) }
  )
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ name, payload: payloadArb(maxMessageSize) }).map((a): Action => ({ t: 'data', ...a })) },
    { weight: 2, arbitrary: fc.record({ name, count: fc.integer({ min: 1, max: 64 }) }).map((a): Action => ({ t: 'burst', ...a })) },
    { weight: 3, arbitrary: fc.record({ name, batch: batchArb(maxMessageSize, maxBatchBytes) }).map((a): Action => ({ t: 'batch', ...a })) },
    { weight: 3, arbitrary: fc.record({ name, upTo: numArb, form: uintFormArb }).map((a): Action => ({ t: 'ack', ...a })) },
    { weight: 4, arbitrary: fc.record({ name, seq: numArb, form: uintFormArb, epoch }).map((a): Action => ({ t: 'resume', ...a })) },
    { weight: 1, arbitrary: name.map((n): Action => ({ t: 'extOpen', name: n })) },
    { weight: 1, arbitrary: name.map((n): Action => ({ t: 'extClose', name: n })) },
    {
      weight: 1,
      arbitrary: fc.record({ name, type: fc.integer({ min: 4, max: 7 }), bytes: fc.uint8Array({ maxLength: 16 }) }).map((a): Action => ({ t: 'extType', ...a }))
    },
    {
      weight: 2,
      arbitrary: fc
        .record({ type: fc.constantFrom(0, 1, 1, 2), body: fc.oneof({ weight: 4, arbitrary: uintBody }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }) }) })
        .map((a): Action => ({ t: 'keepAlive', ...a }))
    },
    { weight: 1, arbitrary: fc.constant<Action>({ t: 'keepAliveOpen' }) },
    { weight: 1, arbitrary: fc.constant<Action>({ t: 'keepAliveClose' }) },
    { weight: 3, arbitrary: rawFrameArb(name).map((frame): Action => ({ t: 'raw', frame })) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 200 }).map((ms): Action => ({ t: 'wait', ms })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 800 }).map((ms): Action => ({ t: 'pause', ms })) },
    { weight: 1, arbitrary: fc.boolean().map((sameKey): Action => ({ t: 'reconnect', sameKey })) }
  )
}

/**
 * What a peer does first. Mostly what makes it a peer with an extension lane (the keep-alive
 * channel, then a resume where an honest sender would start), so the actions after it reach the
 * lane; sometimes less, so the paths before admission are tried too.
 */
const OPENINGS: readonly Sequence[] = [
  [{ t: 'keepAliveOpen' }, { t: 'extOpen', name: FUZZ_EXTENSION }, { t: 'resume', name: FUZZ_EXTENSION, seq: { rel: 0 }, form: 'min', epoch: { kind: 'same' } }],
  [{ t: 'keepAliveOpen' }, { t: 'extOpen', name: FUZZ_BINARY_EXTENSION }],
  [{ t: 'keepAliveOpen' }],
  []
]

/**
 * What a peer does last, mostly: a few well-formed messages on the main lane, as any sender
 * would go on sending, so that state an earlier action corrupted (a resume point, a window) is
 * used before the connection closes.
 */
const CLOSINGS: readonly Sequence[] = [[{ t: 'burst', name: FUZZ_EXTENSION, count: 3 }], []]

/** A sequence of actions on one hostile connection (and its reconnections). */
export function sequenceArb(opts: ModelOptions = {}): fc.Arbitrary<Sequence> {
  const opening = fc.oneof(
    { weight: 6, arbitrary: fc.constant(OPENINGS[0]) },
    { weight: 2, arbitrary: fc.constant(OPENINGS[1]) },
    { weight: 1, arbitrary: fc.constant(OPENINGS[2]) },
    { weight: 1, arbitrary: fc.constant(OPENINGS[3]) }
  )
  const closing = fc.oneof({ weight: 3, arbitrary: fc.constant(CLOSINGS[0]) }, { weight: 1, arbitrary: fc.constant(CLOSINGS[1]) })
  return fc
    .tuple(opening, fc.array(actionArb(opts), { minLength: 1, maxLength: opts.maxActions ?? 24, size: 'medium' }), closing)
    .map(([first, middle, last]): Sequence => [...first, ...middle, ...last])
}

// --- Writing numbers -------------------------------------------------------------------------

function littleEndian(value: bigint, bytes: number): number[] {
  const out: number[] = []
  let v = value
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn))
    v >>= 8n
  }
  return out
}

/** A compact-encoding `uint` in the given form (values above 2^64 − 1 are cut to 64 bits). */
export function encodeUint(value: bigint, form: UintForm = 'min'): Uint8Array {
  const v = value & (TWO ** 64n - 1n)
  let bytes: number[]
  if (form === 'wide') bytes = [0xff, ...littleEndian(v, 8)] // the widest form, whatever the value
  else if (v <= 0xfcn) bytes = [Number(v)]
  else if (v <= 0xffffn) bytes = [0xfd, ...littleEndian(v, 2)]
  else if (v <= 0xffffffffn) bytes = [0xfe, ...littleEndian(v, 4)]
  else bytes = [0xff, ...littleEndian(v, 8)]
  if (form === 'truncated') bytes = bytes.slice(0, bytes.length - 1)
  if (form === 'trailing') bytes = [...bytes, 0xff, 0x00]
  return new Uint8Array(bytes)
}

// --- Describing ------------------------------------------------------------------------------

const NAMED: ReadonlyMap<bigint, string> = new Map([
  [TWO ** 32n - 1n, '2^32-1'],
  [TWO ** 32n, '2^32'],
  [TWO ** 52n, '2^52'],
  [TWO ** 53n - 2n, '2^53-2'],
  [TWO ** 53n - 1n, '2^53-1'],
  [TWO ** 53n, '2^53'],
  [TWO ** 64n - 1n, '2^64-1']
])

function num(value: bigint): string {
  return NAMED.get(value) ?? value.toString()
}

function hex(bytes: Uint8Array): string {
  const h = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
  return h.length > 48 ? `${h.slice(0, 48)}…(${bytes.byteLength} B)` : h || '(empty)'
}

function form(f: UintForm): string {
  return f === 'min' ? '' : `/${f}`
}

function nameOf(name: NameRef): string {
  return typeof name === 'string' ? name : `id:${hex(name.id)}`
}

function numSpec(n: NumSpec): string {
  return 'abs' in n ? num(n.abs) : `+${n.rel}`.replace('+-', '-')
}

function payload(p: Payload): string {
  switch (p.kind) {
    case 'json':
      return 'json'
    case 'bytes':
      return hex(p.bytes)
    case 'text':
      return JSON.stringify(p.text)
    case 'fill':
      return `${p.size}×0x${p.byte.toString(16)}`
  }
}

function channelRef(c: ChannelRef): string {
  return 'ext' in c ? `ext:${nameOf(c.ext)}` : 'keepAlive' in c ? 'keepalive' : `#${num(c.abs)}`
}

function batch(b: BatchSpec): string {
  switch (b.kind) {
    case 'empties':
      return `${b.count} empty messages`
    case 'messages':
      return `[${b.payloads.map(payload).join(', ')}]`
    case 'lengths':
      return `lengths ${b.lengths.map((l) => num(l.value) + form(l.form)).join(',')} + ${hex(b.tail)}`
    case 'bytes':
      return `bytes ${hex(b.bytes)}`
  }
}

function raw(f: RawFrame): string {
  switch (f.kind) {
    case 'random':
      return `bytes ${hex(f.bytes)}`
    case 'empty':
      return 'empty'
    case 'open':
      return `open #${f.channelId === 'next' ? 'next' : num(f.channelId)} ${JSON.stringify(f.protocol)} id=${f.id === null ? 'null' : hex(f.id)}`
    case 'close':
      return `close ${channelRef(f.channel)}`
    case 'reject':
      return `reject ${channelRef(f.channel)}`
    case 'muxBatch':
      return `batch ${channelRef(f.channel)} ${f.parts.map((p) => `${num(p.length)}${form(p.form)}:${hex(p.bytes)}`).join(' ')}`
    case 'message':
      return `message ${channelRef(f.channel)} type=${num(f.type)}${form(f.typeForm)} ${hex(f.body)}`
  }
}

/** One line per action, as a person reads it (`RESUME fuzz seq=2^53-1 epoch=same`). */
export function describeAction(a: Action): string {
  switch (a.t) {
    case 'keepAliveOpen':
      return 'KEEPALIVE open'
    case 'keepAliveClose':
      return 'KEEPALIVE close'
    case 'keepAlive':
      return `KEEPALIVE msg${a.type} ${a.body instanceof Uint8Array ? hex(a.body) : num(a.body.value) + form(a.body.form)}`
    case 'extOpen':
      return `EXT open ${nameOf(a.name)}`
    case 'extClose':
      return `EXT close ${nameOf(a.name)}`
    case 'resume': {
      const epoch = a.epoch.kind === 'same' ? 'same' : a.epoch.kind === 'value' ? String(a.epoch.value) : hex(a.epoch.bytes)
      return `RESUME ${nameOf(a.name)} seq=${numSpec(a.seq)}${form(a.form)} epoch=${epoch}`
    }
    case 'data':
      return `DATA ${nameOf(a.name)} ${payload(a.payload)}`
    case 'burst':
      return `DATA ${nameOf(a.name)} ×${a.count} json`
    case 'ack':
      return `ACK ${nameOf(a.name)} upTo=${numSpec(a.upTo)}${form(a.form)}`
    case 'batch':
      return `BATCH ${nameOf(a.name)} ${batch(a.batch)}`
    case 'extType':
      return `EXT ${nameOf(a.name)} type=${a.type} ${hex(a.bytes)}`
    case 'raw':
      return `RAW ${raw(a.frame)}`
    case 'wait':
      return `wait ${a.ms} ms`
    case 'pause':
      return `stop reading for ${a.ms} ms`
    case 'reconnect':
      return `reconnect (${a.sameKey ? 'same key' : 'new key'})`
  }
}

export function describeSequence(seq: Sequence): string[] {
  return seq.map(describeAction)
}

/** JSON of a sequence (bigints as strings `"123n"`, bytes as hex), for reports and replays. */
export function sequenceToJson(seq: Sequence): unknown {
  return JSON.parse(
    JSON.stringify(seq, (_key, value: unknown) => {
      if (typeof value === 'bigint') return `${value}n`
      if (value instanceof Uint8Array) return { hex: Buffer.from(value).toString('hex') }
      return value
    })
  )
}

/** The inverse of `sequenceToJson`. */
export function sequenceFromJson(json: unknown): Sequence {
  return JSON.parse(JSON.stringify(json), (_key, value: unknown) => {
    if (typeof value === 'string' && /^\d+n$/.test(value)) return BigInt(value.slice(0, -1))
    if (typeof value === 'object' && value !== null && Object.keys(value).length === 1 && typeof (value as { hex?: unknown }).hex === 'string') {
      return new Uint8Array(Buffer.from((value as { hex: string }).hex, 'hex'))
    }
    return value
  }) as Sequence
}
