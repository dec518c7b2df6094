import { SchedulerLike, Subscription } from 'rxjs'

/** A timer of a `TimerQueue`; `cancel()` it to drop it. */
export interface QueuedTimer {
  cancel(): void
}

interface Entry extends QueuedTimer {
  readonly due: number
  readonly run: () => void
  cancelled: boolean
}

/**
 * Many timers on one scheduler action: the queue arms a single action for the earliest due time
 * and runs every timer that is due when it fires, in due order. Timers of the same delay are
 * kept in a FIFO of their own (a later one is never due earlier), so scheduling and firing cost
 * O(1) per timer plus O(number of distinct delays). A cancelled timer is dropped lazily, when it
 * reaches the head of its FIFO. Time comes from the scheduler (`TestScheduler` in marble tests).
 */
export class TimerQueue {
  /** FIFO per delay (ms): entries in due order; `heads` holds the index of each one's head. */
  private readonly lanes = new Map<number, Entry[]>()
  private readonly heads = new Map<number, number>()
  private armed: Subscription | null = null
  private armedFor = Infinity
  private stopped = false

  constructor(private readonly scheduler: SchedulerLike) {}

  /** Runs `run` after `delay` ms (unless cancelled or the queue is stopped). */
  schedule(delay: number, run: () => void): QueuedTimer {
    const entry: Entry = {
      due: this.scheduler.now() + delay,
      run,
      cancelled: false,
      cancel: () => {
        entry.cancelled = true
      }
    }
    if (this.stopped) return entry
    let lane = this.lanes.get(delay)
    if (lane === undefined) {
      lane = []
      this.lanes.set(delay, lane)
      this.heads.set(delay, 0)
    }
    lane.push(entry)
    this.arm(entry.due)
    return entry
  }

  /** Drops every timer and the scheduler action. */
  stop(): void {
    this.stopped = true
    this.armed?.unsubscribe()
    this.armed = null
    this.lanes.clear()
    this.heads.clear()
  }

  private arm(due: number): void {
    if (this.armed !== null && this.armedFor <= due) return
    this.armed?.unsubscribe()
    this.armedFor = due
    this.armed = this.scheduler.schedule(() => {
      this.armed = null
      this.armedFor = Infinity
      this.fire()
    }, Math.max(0, due - this.scheduler.now()))
  }

  private fire(): void {
    const now = this.scheduler.now()
    const due: Entry[] = []
    let next = Infinity
    for (const [delay, lane] of this.lanes) {
      let head = this.heads.get(delay) ?? 0
      while (head < lane.length && (lane[head].cancelled || lane[head].due <= now)) {
        if (!lane[head].cancelled) due.push(lane[head])
        head++
      }
      if (head === lane.length) {
        this.lanes.delete(delay)
        this.heads.delete(delay)
        continue
      }
      // Compact now and then, so a long-lived lane does not keep every timer it ever held.
      if (head > 64 && head * 2 > lane.length) {
        lane.splice(0, head)
        head = 0
      }
      this.heads.set(delay, head)
      next = Math.min(next, lane[head].due)
    }
    if (next !== Infinity) this.arm(next)
    due.sort((a, b) => a.due - b.due)
    for (const entry of due) {
      // An earlier timer of this round may have cancelled it, or stopped the queue.
      if (!entry.cancelled && !this.stopped) entry.run()
    }
  }
}
