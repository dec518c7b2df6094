import c from 'compact-encoding'
// Public types name compact-encoding's types by name: a default import would reach the shipped
// declarations and need the consumer's esModuleInterop (TS1192 without it).
import type { State } from 'compact-encoding'
import { errors } from './errors'

/** A compact-encoding codec (`preencode`/`encode`/`decode` on a state). */
export interface CompactCodec<T> {
  preencode(state: State, value: T): void
  encode(state: State, value: T): void
  decode(state: State): T
}

/** An abstract-encoding codec: whole values to bytes and back. */
export interface ValueCodec<T> {
  encode(value: T): Uint8Array
  decode(bytes: Uint8Array): T
}

/** What `registerExtension` accepts as `encoding`. */
export type Encoding<T> = 'binary' | 'utf-8' | 'utf8' | 'json' | CompactCodec<T> | ValueCodec<T>

/** The normalized codec every extension uses internally. */
export interface Codec<T> {
  /** The name shown on `Extension.encoding` (`'custom'` for a codec object). */
  readonly name: string
  encode(value: T): Uint8Array
  decode(bytes: Uint8Array): T
}

/**
 * A compact-encoding codec as a whole-message codec. `check` runs before encoding, so a value
 * of the wrong type is an error, not a malformed message.
 */
function fromCompact<T>(name: string, codec: CompactCodec<T>, check?: (value: T) => void): Codec<T> {
  return {
    name,
    encode: (value) => {
      check?.(value)
      return c.encode(codec, value)
    },
    decode: (bytes) => c.decode(codec, bytes)
  }
}

// The three named encodings are compact-encoding's whole-message (`raw`) codecs.
const rawBinary = fromCompact<Buffer | Uint8Array | string>('binary', c.raw.binary, (value) => {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw new TypeError('binary messages must be a Buffer, Uint8Array or string')
  }
})
/**
 * `c.raw.binary` encodes bytes as themselves and decodes a whole message as a view of it: for
 * bytes in and a Buffer out, that is the identity, so those skip the copy (Protomux copies a
 * message when it writes it; see the README on modifying a buffer after `send()`).
 */
const binary: Codec<Buffer | Uint8Array | string> = {
  name: 'binary',
  encode: (value) => (value instanceof Uint8Array ? value : rawBinary.encode(value)),
  decode: (bytes) => (Buffer.isBuffer(bytes) ? bytes : rawBinary.decode(bytes))
}
const utf8 = fromCompact<string>('utf-8', c.raw.utf8, (value) => {
  if (typeof value !== 'string') throw new TypeError('utf-8 messages must be strings')
})
const json = fromCompact<unknown>('json', c.raw.json, (value) => {
  if (JSON.stringify(value) === undefined) throw new TypeError('json messages must be JSON-serializable')
})

function isCompact<T>(codec: object): codec is CompactCodec<T> {
  const candidate = codec as Partial<CompactCodec<T>>
  return (
    typeof candidate.preencode === 'function' &&
    typeof candidate.encode === 'function' &&
    typeof candidate.decode === 'function'
  )
}

function isValueCodec<T>(codec: object): codec is ValueCodec<T> {
  const candidate = codec as Partial<ValueCodec<T>>
  return typeof candidate.encode === 'function' && typeof candidate.decode === 'function'
}

/** Resolves an `encoding` option; unknown names and malformed codecs throw `ERR_INVALID_ENCODING`. */
export function resolveEncoding<T>(encoding: unknown): Codec<T> {
  if (encoding === undefined || encoding === null || encoding === 'binary') return binary as unknown as Codec<T>
  if (encoding === 'utf-8' || encoding === 'utf8') return utf8 as unknown as Codec<T>
  if (encoding === 'json') return json as Codec<T>
  if (typeof encoding === 'object') {
    if (isCompact<T>(encoding)) return fromCompact('custom', encoding)
    if (isValueCodec<T>(encoding)) {
      const codec = encoding
      return {
        name: 'custom',
        encode: (value) => codec.encode(value),
        decode: (bytes) => codec.decode(bytes)
      }
    }
  }
  throw errors.invalidEncoding(encoding)
}
