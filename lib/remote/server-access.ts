/**
 * Who may open a WebSocket on `serveNetworker`: the token check (constant time) and the
 * `Origin` check that keeps other web pages out. Node only.
 */
import type { IncomingMessage } from 'http'
import { createHash, timingSafeEqual } from 'crypto'
import { TOKEN_PROTOCOL_PREFIX, hexToBytes } from './protocol'

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]'])

/** SHA-256 of `bytes`: tokens are compared as digests, so both sides have the same length. */
export function digest(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
}

/** The token the client offered as a subprotocol entry, compared in constant time. */
export function tokenMatches(request: IncomingMessage, expected: Buffer): boolean {
  const header = request.headers['sec-websocket-protocol']
  if (typeof header !== 'string') return false
  for (const entry of header.split(',')) {
    const value = entry.trim()
    if (!value.startsWith(TOKEN_PROTOCOL_PREFIX)) continue
    let bytes: Uint8Array
    try {
      bytes = hexToBytes(value.slice(TOKEN_PROTOCOL_PREFIX.length))
    } catch {
      return false
    }
    return timingSafeEqual(digest(bytes), expected)
  }
  return false
}

/** Whether a host name or bound address is this machine's loopback. */
export function isLoopback(address: string): boolean {
  return LOOPBACK_NAMES.has(address) || /^127\.\d+\.\d+\.\d+$/.test(address) || address === '::ffff:127.0.0.1'
}

/**
 * An `Origin` is allowed if listed (or `'*'`); without a list, only a request without one (not a
 * browser) or a page of this server's own loopback origin (Host and Origin agree, and the Host
 * is a loopback name: a rebound DNS name is not).
 */
export function originAllowed(request: IncomingMessage, allow: readonly string[] | '*' | undefined, host: string): boolean {
  const origin = request.headers.origin
  if (allow === '*') return true
  // Not a browser: an Origin check protects browsers only (the token protects the rest).
  if (origin === undefined) return true
  if (allow !== undefined) return allow.includes(origin)
  let parsed: URL
  try {
    parsed = new URL(origin)
  } catch {
    return false
  }
  const hostHeader = request.headers.host
  if (hostHeader === undefined || parsed.host !== hostHeader.toLowerCase()) return false
  return isLoopback(parsed.hostname) || parsed.hostname === host
}
