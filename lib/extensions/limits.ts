import { errors } from '../errors'
import type { WindowLimits } from './lane'

/**
 * Protomux protocol of extension channels; the channel id is the extension name's UTF-8 bytes.
 * Version 2 added the `BATCH` message: a version-1 channel would ignore it and number the
 * messages after it wrong, so the two versions do not pair at all.
 */
export const EXTENSION_PROTOCOL = '@basestore/networker/extension/2'

/** Default `maxMessageSize`: 4 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024

/**
 * The largest `maxMessageSize` accepted: 8 MiB − 64 KiB. The secret stream refuses (and dies
 * on) a frame above 16 MiB − 1; Protomux fills a corked batch up to 8 MiB and then takes one
 * more message. So a batch is below 8 MiB + one message: with messages at most this size it
 * stays below the frame limit, whoever else corks the muxer (Hypercore does).
 */
export const MAX_MESSAGE_SIZE_LIMIT = 8 * 1024 * 1024 - 64 * 1024

/** The longest extension name, in UTF-8 bytes (it travels in every channel open). */
export const MAX_NAME_BYTES = 1024

/**
 * The credit window of each peer and extension: at most this many messages and bytes
 * unacknowledged in flight. Small in bytes, so extension data never sits long ahead of
 * replication on the shared connection; a message larger than the byte window goes alone.
 */
export const DEFAULT_WINDOW: WindowLimits = { messages: 4096, bytes: 256 * 1024 }

/** Our corked batches are cut at this size (Protomux's own limit is 8 MiB). */
export const FLUSH_BATCH_BYTES = 1024 * 1024

/** Delivered messages below an eighth of the window are acknowledged after this delay (ms). */
export const ACK_DELAY_MS = 5

/** Time a delivery turn may take before the rest waits for the next turn (I/O runs between). */
export const DELIVERY_BUDGET_MS = 4

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Validates an extension name and returns its UTF-8 bytes, the channel id. Names are compared
 * by these bytes; a string that is not well-formed Unicode (a lone surrogate) is refused,
 * since several such strings encode to the same bytes.
 */
export function nameBytes(name: unknown): Buffer {
  if (typeof name !== 'string' || name.length === 0) throw errors.invalidName(name)
  if (LONE_SURROGATE.test(name)) throw errors.invalidName(name, 'well-formed Unicode (no lone surrogates)')
  const bytes = Buffer.from(name, 'utf-8')
  if (bytes.byteLength > MAX_NAME_BYTES) throw errors.invalidName(name, `at most ${MAX_NAME_BYTES} bytes in UTF-8`)
  return bytes
}
