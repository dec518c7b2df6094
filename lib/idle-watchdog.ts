/** What the watchdog reads and does on a connection (a Noise secret stream). */
export interface Watchable {
  /** Bytes received after the handshake; any frame, keep-alives included, moves it. */
  readonly rawBytesRead: number
  /** The transport (a UDX stream): every packet it receives, acknowledgements and retransmits included. */
  readonly rawStream?: { readonly packetsReceived?: number } | null
  readonly destroyed: boolean
  destroy(err?: Error): void
}

interface Watch {
  bytes: number
  /** Transport packets received, when they count as a sign of life (else -1). */
  packets: number
  /** ms of silence counted so far (only while this process was running, see `tick`). */
  idle: number
  budget: number
}

/**
 * How long (ms) the memory of a stall of this process lasts: the load-dependent allowance halves
 * over this time.
 */
const LAG_HALF_LIFE = 10_000

/** Each ms this process was recently stalled adds this many ms to every budget. */
const LAG_ALLOWANCE = 2

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
 * idle machine that is nothing.
 */
export class IdleWatchdog {
  private readonly watched = new Map<Watchable, Watch>()
  private timer: ReturnType<typeof setInterval> | null = null
  private lastTick = 0
  /** The longest recent stall of this process (ms), decaying. */
  private recentLag = 0

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
      existing.budget = budget
      existing.packets = packets
      return
    }
    this.watched.set(stream, { bytes: stream.rawBytesRead, packets, idle: 0, budget })
    if (this.timer === null) {
      this.lastTick = this.now()
      this.timer = setInterval(() => this.check(), this.tick)
      this.timer.unref?.()
    }
  }

  /** Stops watching a connection (it closed, or its remote keeps alive on its own terms). */
  unwatch(stream: Watchable): void {
    this.watched.delete(stream)
    if (this.watched.size === 0) this.stop()
  }

  /** ms added to every budget now, for the recent stalls of this process. */
  get allowance(): number {
    return LAG_ALLOWANCE * this.recentLag
  }

  /** How many connections are watched. */
  get size(): number {
    return this.watched.size
  }

  /** Stops the timer and forgets every connection. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.watched.clear()
  }

  /** One tick: exported for tests through `check`, run by the timer otherwise. */
  check(): void {
    const now = this.now()
    const elapsed = now - this.lastTick
    const credit = Math.min(elapsed, 2 * this.tick)
    // This process was stalled: what the remotes sent meanwhile is not read yet.
    const late = elapsed > 1.5 * this.tick
    this.lastTick = now
    this.recentLag = Math.max(elapsed - this.tick, this.recentLag * 0.5 ** (elapsed / LAG_HALF_LIFE))
    const allowance = LAG_ALLOWANCE * this.recentLag
    for (const [stream, watch] of this.watched) {
      if (stream.destroyed) {
        this.watched.delete(stream)
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
      if (watch.idle >= watch.budget + allowance && !late) {
        this.watched.delete(stream)
        stream.destroy(new Error(TIMED_OUT))
      }
    }
    if (this.watched.size === 0) this.stop()
  }
}

function packetsOf(stream: Watchable): number {
  return stream.rawStream?.packetsReceived ?? 0
}
