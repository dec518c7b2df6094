/** The most deliveries between two reads of the clock (reads cost about 0.2 µs on some VMs). */
const MAX_STRIDE = 32

/**
 * Hands incoming extension messages to the application without starving I/O. Messages are
 * delivered at once as they arrive until `budgetMs` has passed since the first of them (a turn
 * ends when the queue drains or the caller says so with `endTurn()`); after
 * that they wait, in arrival order, and are delivered in `setImmediate` batches of at most
 * `budgetMs` each, so replication and every other socket get a turn between batches. Once the
 * queue is empty again, deliveries are immediate again. Acknowledgements follow delivery, so a slow consumer slows its
 * sender instead of filling the connection.
 *
 * The clock is not read for every message: after each read, the next comes after as many
 * deliveries as fit in half the budget left at the pace measured since the previous read
 * (at least 1, at most `MAX_STRIDE`). A consumer that takes milliseconds per message is timed
 * at every message; a fast one every 32.
 */
export class DeliveryQueue<T> {
  private items: Array<T | undefined> = []
  private head = 0
  private turnStart = -1
  /** The clock at the last read of this turn, deliveries since, and deliveries before the next read. */
  private lastRead = 0
  private sinceRead = 0
  private stride = 1
  private immediate: ReturnType<typeof setImmediate> | null = null
  private closed = false
  private readonly drainBound = (): void => this.drain()

  constructor(
    private readonly deliver: (item: T) => void,
    private readonly budgetMs: number
  ) {}

  /** Whether a message arriving now may be delivered at once (nothing waits, budget left). */
  canDeliverNow(): boolean {
    if (this.closed || this.immediate !== null || this.head < this.items.length) return false
    if (this.turnStart < 0) {
      this.startTurn()
      return true
    }
    return ++this.sinceRead < this.stride || this.budgetLeft()
  }

  /** The synchronous run that delivered is over (nothing waits): the next one gets a fresh budget. */
  endTurn(): void {
    if (this.immediate === null && this.head === this.items.length) this.turnStart = -1
  }

  /** Queues a message for a later turn (when `canDeliverNow()` said no). */
  push(item: T): void {
    if (this.closed) return
    this.items.push(item)
    this.immediate ??= setImmediate(this.drainBound)
  }

  close(): void {
    this.closed = true
    if (this.immediate !== null) clearImmediate(this.immediate)
    this.immediate = null
    this.items = []
    this.head = 0
  }

  private startTurn(): void {
    this.turnStart = this.lastRead = performance.now()
    this.sinceRead = 0
    this.stride = 1
  }

  /** Reads the clock: false once the turn's budget is spent, else sets when to read it again. */
  private budgetLeft(): boolean {
    const now = performance.now()
    const left = this.budgetMs - (now - this.turnStart)
    if (left <= 0) return false
    const each = (now - this.lastRead) / this.sinceRead
    this.stride = each > 0 ? Math.max(1, Math.min(MAX_STRIDE, Math.floor(left / (2 * each)))) : MAX_STRIDE
    this.lastRead = now
    this.sinceRead = 0
    return true
  }

  private drain(): void {
    this.immediate = null
    this.startTurn()
    while (this.head < this.items.length && !this.closed) {
      const item = this.items[this.head] as T
      this.items[this.head++] = undefined
      this.deliver(item)
      if (++this.sinceRead >= this.stride && !this.budgetLeft()) break
    }
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
      this.turnStart = -1
    } else if (this.head >= 1024) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    if (this.head < this.items.length && !this.closed) this.immediate = setImmediate(this.drainBound)
  }
}
