/** What the watchdog reads and does on a connection (a Noise secret stream). */
export interface Watchable {
  /** Bytes received after the handshake; any frame, keep-alives included, moves it. */
  readonly rawBytesRead: number
  /** The transport (a UDX stream): every packet it receives, acknowledgements and retransmits included. */
  readonly rawStream?: { readonly packetsReceived?: number; readonly rtt?: number } | null
  readonly destroyed: boolean
  destroy(err?: Error): void
}

interface Watch {
  /**
   * Set while the connection's remote has not answered yet (`handshake`): the budget is then a
   * deadline, counted whatever the connection receives, and this is called when it runs out.
   */
  expire: (() => void) | null
  bytes: number
  /** Transport packets received, when they count as a sign of life (else -1). */
  packets: number
  /** ms of silence counted so far (only while this process was running, see `tick`). */
  idle: number
  budget: number
  /** The remote's own recent stall as it reported it (ms), and when (this clock). */
  remoteLag: number
  remoteLagAt: number
}

/**
 * How long (ms) the memory of a stall of this process lasts: the load-dependent allowance halves
 * over this time.
 */
const LAG_HALF_LIFE = 10_000

/** Each ms this process was recently stalled adds this many ms to every budget. */
const LAG_ALLOWANCE = 2

/**
 * The transport's round trip counts for at most this many budgets. A live connection's UDX
 * stream whose round-trip estimate grew to seconds under load waits that long to resend a lost
 * packet (at 50 hosts: silences of 7 s with estimates at 4 s and more); a dead peer's estimate
 * is whatever it was before it died, small on a quiet link.
 */
const MAX_RTT_FACTOR = 4

/** A stall of this process shorter than this (ms) is not reported to the remotes. */
const MIN_REPORTED_STALL = 100

/** The error a silent connection is destroyed with (the same message as secret-stream's own). */
export const TIMED_OUT = 'Stream timed out'

/**
 * The idle time-out of every connection of a networker, on one timer.
 *
 * Silence counts from the last frame received, and only while this process itself was running:
 * each tick adds the time since the previous tick, but at most two tick periods. When the event
 * loop was blocked for a second, the frames the remote sent meanwhile are still unread in the
 * socket, so that second is no verdict on the remote. And a late tick gives no verdict at all:
 * Node runs timers before it reads sockets, so the frames that arrived during the stall are read
 * only after that tick. A dead or cut remote is still dropped within its budget plus a tick or
 * two.
 *
 * And the budget grows with the load this process sees: on a saturated machine its neighbours
 * are stalled as often as it is, and a remote that does not run cannot keep alive. Every budget
 * gets twice the longest recent stall of this process (a memory that halves every 10 s); on an
 * idle machine that is nothing. The remotes do the same and tell us (`onStall`, `remoteStalled`):
 * a connection's budget grows with the larger of the two, since a remote starved of CPU while
 * this process was not is just as silent.
 */
export class IdleWatchdog {
  private readonly watched = new Map<Watchable, Watch>()
  private timer: ReturnType<typeof setInterval> | null = null
  private lastTick = 0
  /** The longest recent stall of this process (ms), decaying. */
  private recentLag = 0
  private readonly stallListeners = new Set<(ms: number) => void>()

  /**
   * @param tick ms between checks: the granularity of every verdict.
   * @param now The clock (ms), for tests.
   */
  constructor(
    private readonly tick: number,
    private readonly now: () => number = () => performance.now()
  ) {}

  /**
   * Starts (or re-budgets) the watch of a connection: destroyed after `budget` ms of silence.
   * With `transport`, a packet the transport received (an acknowledgement of what we sent, a
   * frame still waiting behind a lost one) counts as a sign of life too: a remote that answers
   * at that level is alive, while a frame lost on a congested link holds every later one back
   * for a retransmission timeout or two.
   */
  watch(stream: Watchable, budget: number, transport = false): void {
    const packets = transport ? packetsOf(stream) : -1
    const existing = this.watched.get(stream)
    if (existing !== undefined) {
      if (existing.expire !== null) {
        // The remote answered: silence counts from now on.
        existing.expire = null
        existing.idle = 0
        existing.bytes = stream.rawBytesRead
      }
      existing.budget = budget
      existing.packets = packets
      return
    }
    this.add(stream, { expire: null, bytes: stream.rawBytesRead, packets, idle: 0, budget, remoteLag: 0, remoteLagAt: 0 })
  }

  /**
   * Starts the handshake budget of a connection whose remote has not answered yet: `onexpire` is
   * called once `budget` ms have passed (only time this process was running counts, as for
   * silence), whatever the connection received meanwhile: a remote that keeps its transport
   * alive but never answers is not alive for us. `watch` (the remote answered, silence counts
   * from now) or `unwatch` ends it. The watchdog does not destroy the connection: `onexpire` does.
   */
  handshake(stream: Watchable, budget: number, onexpire: () => void): void {
    this.watched.delete(stream)
    this.add(stream, { expire: onexpire, bytes: stream.rawBytesRead, packets: -1, idle: 0, budget, remoteLag: 0, remoteLagAt: 0 })
  }

  private add(stream: Watchable, watch: Watch): void {
    this.watched.set(stream, watch)
    if (this.timer === null) {
      this.lastTick = this.now()
      this.timer = setInterval(() => this.check(), this.tick)
      this.timer.unref?.()
    }
  }

  /** Stops watching a connection (it closed, or its remote keeps alive on its own terms). */
  unwatch(stream: Watchable): void {
    this.watched.delete(stream)
    if (this.watched.size === 0) this.pause()
  }

  /** ms added to every budget now, for the recent stalls of this process. */
  get allowance(): number {
    return LAG_ALLOWANCE * this.recentLag
  }

  /**
   * Calls `listener` with the length (ms) of each stall of this process that is longer than any
   * it recently had (the memory behind `allowance`), from 100 ms up: what the remotes are told.
   * Returns the function that removes it.
   */
  onStall(listener: (ms: number) => void): () => void {
    this.stallListeners.add(listener)
    return () => this.stallListeners.delete(listener)
  }

  /**
   * The remote of a watched connection reports a stall of its own (ms): until that memory decays
   * like ours, the connection's budget grows by twice the larger of the two. The caller bounds `ms`.
   */
  remoteStalled(stream: Watchable, ms: number): void {
    const watch = this.watched.get(stream)
    if (watch === undefined) return
    const now = this.now()
    watch.remoteLag = Math.max(ms, decayed(watch.remoteLag, now - watch.remoteLagAt))
    watch.remoteLagAt = now
  }

  /** How many connections are watched. */
  get size(): number {
    return this.watched.size
  }

  /** Stops the timer and forgets every connection. */
  stop(): void {
    this.pause()
    this.watched.clear()
    this.stallListeners.clear()
  }

  /** Stops the timer while nothing is watched (the next `watch` starts it again). */
  private pause(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** One tick: exported for tests through `check`, run by the timer otherwise. */
  check(): void {
    const now = this.now()
    const elapsed = now - this.lastTick
    const credit = Math.min(elapsed, 2 * this.tick)
    // This process was stalled: what the remotes sent meanwhile is not read yet.
    const late = elapsed > 1.5 * this.tick
    this.lastTick = now
    const stall = elapsed - this.tick
    const remembered = decayed(this.recentLag, elapsed)
    this.recentLag = Math.max(stall, remembered)
    if (stall > remembered && stall >= MIN_REPORTED_STALL) {
      for (const listener of this.stallListeners) listener(Math.round(stall))
    }
    for (const [stream, watch] of this.watched) {
      if (stream.destroyed) {
        this.watched.delete(stream)
        continue
      }
      if (watch.expire !== null) {
        // A deadline: what arrived does not matter, only whether the remote answered in time.
        watch.idle += credit
        if (watch.idle >= watch.budget + LAG_ALLOWANCE * this.recentLag && !late) {
          this.watched.delete(stream)
          watch.expire()
        }
        continue
      }
      const packets = watch.packets === -1 ? -1 : packetsOf(stream)
      if (stream.rawBytesRead !== watch.bytes || packets !== watch.packets) {
        watch.bytes = stream.rawBytesRead
        watch.packets = packets
        watch.idle = 0
        continue
      }
      watch.idle += credit
      const remoteLag = decayed(watch.remoteLag, now - watch.remoteLagAt)
      // A transport whose round trip is seconds long (acknowledgements held up by loaded ends)
      // resends a lost packet only after that long: once it counts (the channel answered), its
      // round trip is added too, up to `MAX_RTT_FACTOR` budgets.
      const rtt = watch.packets === -1 ? 0 : Math.min(MAX_RTT_FACTOR * watch.budget, stream.rawStream?.rtt ?? 0)
      if (watch.idle >= watch.budget + LAG_ALLOWANCE * Math.max(this.recentLag, remoteLag) + rtt && !late) {
        this.watched.delete(stream)
        // What the verdict was made of, for whoever logs the error.
        const verdict = { silence: Math.round(watch.idle), budget: watch.budget, rtt: Math.round(rtt), lag: Math.round(this.recentLag), remoteLag: Math.round(remoteLag) }
        stream.destroy(Object.assign(new Error(TIMED_OUT), verdict))
      }
    }
    if (this.watched.size === 0) this.pause()
  }
}

/** A stall memory of `ms`, `age` ms later. */
function decayed(ms: number, age: number): number {
  return ms === 0 ? 0 : ms * 0.5 ** (age / LAG_HALF_LIFE)
}

function packetsOf(stream: Watchable): number {
  return stream.rawStream?.packetsReceived ?? 0
}
