import Protomux from 'protomux'
import c from 'compact-encoding'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { NetworkerError, errors } from './errors'
import { toHex } from './keys'

/** Protomux protocol on which each side asks the other for keep-alives (see `timeout`). */
export const KEEPALIVE_PROTOCOL = '@basestore/networker/keepalive'

/** The fastest keep-alive a remote may ask us for. */
const MIN_KEEPALIVE = 100

export interface KeepAliveOptions {
  /** ms; when set, peers are asked for keep-alives at a third of it and silent ones time out. */
  readonly timeout: number
  readonly onerror: (err: NetworkerError) => void
}

/**
 * Connection policy for every connection as it opens, before authentication and dedup: arms
 * the idle time-out and opens the keep-alive channel, for the connection's whole life.
 *
 * With a `timeout`, silence counts from the first moment. A remote that runs this protocol
 * answers the channel at once and then keeps alive at `timeout / 3`; one that rejects it (a
 * plain Hyperswarm peer) gets the default keep-alive back; one that never answers (a half-open
 * connection, a mute peer) stays silent and times out, instead of lingering until the
 * transport gives up (~13 s).
 */
export function guardConnection(stream: NoiseSecretStream, opts: KeepAliveOptions): void {
  if (stream.destroyed) return
  const mux = Protomux.from(stream)
  if (opts.timeout > 0) stream.setTimeout(opts.timeout)
  // Always paired, even without our own timeout: the remote may ask us for keep-alives.
  mux.pair({ protocol: KEEPALIVE_PROTOCOL }, () => openKeepAlive(stream, mux, opts))
  openKeepAlive(stream, mux, opts)
}

function openKeepAlive(stream: NoiseSecretStream, mux: Protomux, { timeout, onerror }: KeepAliveOptions): void {
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
            onerror(errors.decode(KEEPALIVE_PROTOCOL, toHex(stream.remotePublicKey), err))
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
