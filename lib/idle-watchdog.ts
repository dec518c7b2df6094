/** What the watchdog reads and does on a connection (a Noise secret stream). */
export interface Watchable {
  /** Bytes received after the handshake; any frame, keep-alives included, moves it. */
  readonly rawBytesRead: number
  readonly destroyed: boolean
  destroy(err?: Error): void
}

interface Watch {
  bytes: number
  /** ms of silence counted so far (only while this process was running, see `tick`). */
  idle: number
  budget: number
}

/** The error a silent connection is destroyed with (the same message as secret-stream's own). */
export const TIMED_OUT = 'Stream timed out'

/**
 * The idle time-out of every connection of a networker, on one timer.
 *
 * Silence counts from the last frame received, and only while this process itself was running:
 * each tick adds the time since the previous tick, but at most two tick periods. When the event
 * loop was blocked for a second, the frames the remote sent meanwhile are still unread in the
 * socket, so that second is no verdict on the remote. A dead or cut remote is still dropped
 * within its budget plus one tick.
 */
export class IdleWatchdog {
  private readonly watched = new Map<Watchable, Watch>()
  private timer: ReturnType<typeof setInterval> | null = null
  private lastTick = 0

  /**
   * @param tick ms between checks: the granularity of every verdict.
   * @param now The clock (ms), for tests.
   */
  constructor(
    private readonly tick: number,
    private readonly now: () => number = () => performance.now()
  ) {}

  /** Starts (or re-budgets) the watch of a connection: destroyed after `budget` ms of silence. */
  watch(stream: Watchable, budget: number): void {
    const existing = this.watched.get(stream)
    if (existing !== undefined) {
      existing.budget = budget
      return
    }
    this.watched.set(stream, { bytes: stream.rawBytesRead, idle: 0, budget })
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
    const credit = Math.min(now - this.lastTick, 2 * this.tick)
    this.lastTick = now
    for (const [stream, watch] of this.watched) {
      if (stream.destroyed) {
        this.watched.delete(stream)
        continue
      }
      if (stream.rawBytesRead !== watch.bytes) {
        watch.bytes = stream.rawBytesRead
        watch.idle = 0
        continue
      }
      watch.idle += credit
      if (watch.idle >= watch.budget) {
        this.watched.delete(stream)
        stream.destroy(new Error(TIMED_OUT))
      }
    }
    if (this.watched.size === 0) this.stop()
  }
}
