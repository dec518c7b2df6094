import Protomux from 'protomux'
import c from 'compact-encoding'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { NetworkerError, errors } from './errors'
import { DEFAULT_HANDSHAKE_TIMEOUT, HANDSHAKE_BUDGET_FACTOR } from './budgets'
import type { IdleWatchdog } from './idle-watchdog'
import { toHex } from './keys'

/** Protomux protocol on which each side asks the other for keep-alives (see `timeout`). */
export const KEEPALIVE_PROTOCOL = '@basestore/networker/keepalive'

/** The fastest keep-alive a remote may ask us for. */
const MIN_KEEPALIVE = 100

/**
 * The slowest keep-alive a remote may ask for: the largest timer Node keeps (2^31 − 1 ms). Node
 * turns a longer one into 1 ms, so a request for 2^40 ms would have meant a keep-alive every
 * millisecond.
 */
const MAX_KEEPALIVE = 2 ** 31 - 1

/** Keep-alives are asked for at this fraction of `timeout`: a loaded remote still beats it. */
const KEEPALIVE_DIVISOR = 4

/**
 * The longest stall (ms) a remote may report, as a multiple of `timeout`: a remote's report
 * stretches its connection's budget by at most twice this.
 */
const MAX_REMOTE_STALL_FACTOR = 2

/**
 * The handshake budget (ms): how long a new connection may take to answer the keep-alive
 * channel. `handshakeTimeout` when given, else `HANDSHAKE_BUDGET_FACTOR × timeout` (two
 * saturated ends answer late, not never), else `DEFAULT_HANDSHAKE_TIMEOUT`.
 */
export function handshakeBudget(opts: { readonly timeout?: number; readonly handshakeTimeout?: number }): number {
  if (opts.handshakeTimeout !== undefined) return opts.handshakeTimeout
  const timeout = opts.timeout ?? 0
  return timeout > 0 ? HANDSHAKE_BUDGET_FACTOR * timeout : DEFAULT_HANDSHAKE_TIMEOUT
}

export interface KeepAliveOptions {
  /** ms; when set, peers are asked for keep-alives at a quarter of it and silent ones time out. */
  readonly timeout: number
  /** ms the remote has to answer the keep-alive channel (see `handshakeBudget`). */
  readonly handshakeTimeout: number
  /** Keeps the handshake budget of every connection and, with a `timeout`, their silence. */
  readonly watchdog: IdleWatchdog | null
  readonly onerror: (err: NetworkerError) => void
  /**
   * Called when the connection is destroyed for not answering within the handshake budget (not
   * an error: half-open connections are routine on a public DHT).
   */
  readonly onunanswered?: () => void
  /**
   * Called once data has crossed both ways: the remote opened the keep-alive channel (a
   * networker) or rejected it (a plain Hyperswarm peer running Protomux). Not called for a
   * connection that closes first.
   */
  readonly onalive: () => void
  /**
   * How many peers this networker has now: told to the remote when the channel opens (and
   * later through the returned handle's `tellPeers`), so a full remote can make room for a
   * newcomer that has few (see `Connections`).
   */
  readonly peers?: () => number
  /** The remote told how many peers it has (a safe integer at most `MAX_TOLD_PEERS`). */
  readonly onpeers?: (count: number) => void
  /** The remote told us it took this connection as a peer (see `KeepAliveHandle.admitted`). */
  readonly onadmitted?: () => void
}

/** What the caller can do with a connection's keep-alive channel once armed. */
export interface KeepAliveHandle {
  /** Tells the remote this networker's peer count now (when the channel is open). */
  tellPeers(count: number): void
  /**
   * Tells the remote that this connection is one of our peers now (when the channel is open):
   * if it closes soon after, the remote knows we did not refuse it, and does not back off from
   * us as from a full networker (see `Connections`).
   */
  admitted(): void
}

/** The "admitted" message carries nothing. */
const EMPTY = new Uint8Array(0)

/** The largest peer count a remote may tell: more is out of range and ignored. */
export const MAX_TOLD_PEERS = 65535

/**
 * Connection policy for every connection as it opens, before authentication and dedup: opens
 * the keep-alive channel, gives the remote the handshake budget to answer it and, with a
 * `timeout`, watches the connection's silence for the rest of its life.
 *
 * Until the remote answers the channel, the connection has the handshake budget (a deadline
 * from its first moment, whatever it receives meanwhile); then, with a `timeout`, `timeout`
 * counted from the last frame received. A remote that runs this protocol answers at once and
 * keeps alive at `timeout / 4`; one that rejects it (a plain Hyperswarm peer) keeps alive at its
 * own pace and is not watched; one that never answers (a half-open connection, a mute peer, a
 * peer that keeps its transport alive but never reads) is destroyed when the budget runs out,
 * never having been a peer.
 */
export function armKeepAlive(stream: NoiseSecretStream, opts: KeepAliveOptions): KeepAliveHandle {
  /** Sends our peer count on the open channel (set when it opens, cleared when it closes). */
  let send: ((count: number) => void) | null = null
  /** Says "admitted" on the open channel (set when it opens, cleared when it closes). */
  let admit: (() => void) | null = null
  const handle: KeepAliveHandle = { tellPeers: (count) => send?.(count), admitted: () => admit?.() }
  if (stream.destroyed) return handle
  const mux = Protomux.from(stream)
  const { watchdog } = opts
  if (watchdog !== null) {
    watchdog.handshake(stream, opts.handshakeTimeout, () => {
      opts.onunanswered?.()
      stream.destroy()
    })
    stream.once('close', () => watchdog.unwatch(stream))
  }
  let alive = false
  const answered = (): void => {
    if (alive || stream.destroyed) return
    alive = true
    opts.onalive()
  }
  // Always paired, even without our own timeout: the remote may ask us for keep-alives.
  const onsend = (open: ((count: number) => void) | null, admitted: (() => void) | null): void => {
    send = open
    admit = admitted
  }
  mux.pair({ protocol: KEEPALIVE_PROTOCOL }, () => openKeepAlive(stream, mux, opts, answered, onsend))
  openKeepAlive(stream, mux, opts, answered, onsend)
  return handle
}

function openKeepAlive(
  stream: NoiseSecretStream,
  mux: Protomux,
  opts: KeepAliveOptions,
  answered: () => void,
  onsend: (send: ((count: number) => void) | null, admitted: (() => void) | null) => void
): void {
  const { timeout, watchdog, onerror } = opts
  let opened = false
  let stopTelling: (() => void) | null = null
  const channel = mux.createChannel({
    protocol: KEEPALIVE_PROTOCOL,
    unique: true,
    messages: [
      {
        encoding: c.raw,
        onmessage: (bytes: Uint8Array) => {
          const ms = decodeUint(bytes)
          if (ms === null || ms < MIN_KEEPALIVE || ms > MAX_KEEPALIVE) return
          if (!stream.keepAlive || ms < stream.keepAlive) stream.setKeepAlive(ms)
        }
      },
      {
        // The remote's event loop was stalled this long (ms): it could not keep alive meanwhile.
        encoding: c.raw,
        onmessage: (bytes: Uint8Array) => {
          const ms = decodeUint(bytes)
          if (ms === null) return
          watchdog?.remoteStalled(stream, Math.min(ms, MAX_REMOTE_STALL_FACTOR * timeout))
        }
      },
      {
        // How many peers the remote has (older versions never send it; Protomux ignores a
        // message type a channel lacks, so they do not mind receiving it either).
        encoding: c.raw,
        onmessage: (bytes: Uint8Array) => {
          const count = decodeUint(bytes)
          if (count === null || count > MAX_TOLD_PEERS) return
          opts.onpeers?.(count)
        }
      },
      {
        // The remote took this connection as a peer (older versions never send it). No payload:
        // whatever bytes come with it are ignored.
        encoding: c.raw,
        onmessage: () => opts.onadmitted?.()
      }
    ],
    onopen: () => {
      opened = true
      if (!stream.destroyed) {
        const { peers } = opts
        const tell =
          peers === undefined
            ? null
            : (count: number): void => {
                if (!ch.closed) ch.messages[2].send(c.encode(c.uint, count))
              }
        onsend(tell, () => {
          if (!ch.closed) ch.messages[3].send(EMPTY)
        })
        if (peers !== undefined) tell?.(peers())
      }
      if (timeout > 0 && !stream.destroyed) {
        ch.messages[0].send(c.encode(c.uint, Math.max(MIN_KEEPALIVE, Math.floor(timeout / KEEPALIVE_DIVISOR))))
        // From now on silence is measured against the timeout itself, and the remote's transport
        // acknowledging what we send counts as a sign of life.
        watchdog?.watch(stream, timeout, true)
        // And the remote hears of this process's stalls, to stretch its own budget for us.
        stopTelling = watchdog?.onStall((ms) => ch.messages[1].send(c.encode(c.uint, ms))) ?? null
      } else if (timeout <= 0) {
        // Answered in time: without a `timeout` nothing more is watched.
        watchdog?.unwatch(stream)
      }
      answered()
    },
    onclose: (isRemote) => {
      // Closed with its connection, or by the remote: nothing more to tell on it.
      stopTelling?.()
      stopTelling = null
      if (opened) onsend(null, null)
      if (opened || !isRemote || stream.destroyed) return
      // Rejected: a plain Hyperswarm peer that runs Protomux. It answered, so data flows; it keeps
      // alive at its own pace, so ours must not cut it. (A pair callback re-arms if the remote
      // opens the channel later.)
      watchdog?.unwatch(stream)
      answered()
    }
  })
  if (channel === null) return
  const ch = channel
  ch.open()

  function decodeUint(bytes: Uint8Array): number | null {
    try {
      return c.decode(c.uint, bytes)
    } catch (err) {
      onerror(errors.decode(KEEPALIVE_PROTOCOL, toHex(stream.remotePublicKey), err))
      return null
    }
  }
}
