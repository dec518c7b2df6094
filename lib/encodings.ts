import c from 'compact-encoding'
import { errors } from './errors'

/** A compact-encoding codec (`preencode`/`encode`/`decode` on a state). */
export interface CompactCodec<T> {
  preencode(state: c.State, value: T): void
  encode(state: c.State, value: T): void
  decode(state: c.State): T
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

const binary: Codec<Buffer> = {
  name: 'binary',
  encode: (value) => {
    if (typeof value === 'string') return Buffer.from(value)
    if (value instanceof Uint8Array) return value
    throw new TypeError('binary messages must be a Buffer, Uint8Array or string')
  },
  // Protomux hands over Buffers already: wrap only what is not one.
  decode: (bytes) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
}

const utf8: Codec<string> = {
  name: 'utf-8',
  encode: (value) => {
    if (typeof value !== 'string') throw new TypeError('utf-8 messages must be strings')
    return Buffer.from(value, 'utf-8')
  },
  decode: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf-8')
}

const json: Codec<unknown> = {
  name: 'json',
  encode: (value) => {
    const text = JSON.stringify(value)
    if (text === undefined) throw new TypeError('json messages must be JSON-serializable')
    return Buffer.from(text)
  },
  decode: (bytes) => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf-8'))
}

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
    if (isCompact<T>(encoding)) {
      const codec = encoding
      return {
        name: 'custom',
        encode: (value) => c.encode(codec, value),
        decode: (bytes) => c.decode(codec, bytes)
      }
    }
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
