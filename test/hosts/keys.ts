/**
 * Host events name a remote by the first 16 hex characters (64 bits) of its public key: unique
 * among a few hundred hosts, and a 50-host `peers` event stays under a kilobyte.
 */
export function shortKey(key: Uint8Array | string): string {
  return (typeof key === 'string' ? key : Buffer.from(key).toString('hex')).slice(0, 16)
}
