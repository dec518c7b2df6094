import b4a from 'b4a'
import { errors } from './errors'

const HEX_KEY = /^[0-9a-fA-F]{64}$/

/**
 * Checks a discovery key and returns it as bytes of its own (never a view of the caller's
 * memory): a Buffer in Node, a Uint8Array in the browser. Throws `ERR_INVALID_KEY` for
 * anything but 32 bytes or 64 hex characters.
 */
export function toDiscoveryKey(key: unknown): Buffer {
  if (typeof key === 'string') {
    if (!HEX_KEY.test(key)) throw errors.invalidKey(key)
    return b4a.from(key, 'hex') as Buffer
  }
  if (key instanceof Uint8Array && key.byteLength === 32) return b4a.from(key) as Buffer
  throw errors.invalidKey(key)
}

/** The hex form used as map key and in `topics$`. */
export function toHex(key: Uint8Array): string {
  return b4a.toString(key, 'hex')
}

/** A discovery key normalised once at the API edge: its bytes and its hex form (the map key). */
export interface TopicKey {
  readonly key: Buffer
  readonly hex: string
}

/** Checks a discovery key (as `toDiscoveryKey`) and returns it with its hex form. */
export function toTopicKey(key: unknown): TopicKey {
  const bytes = toDiscoveryKey(key)
  return { key: bytes, hex: toHex(bytes) }
}
