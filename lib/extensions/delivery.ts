/**
 * Hands incoming extension messages to the application without starving I/O. Messages are
 * delivered at once as they arrive until `budgetMs` has passed since the first of them (a turn
 * ends when the queue drains or the caller says so with `endTurn()`); after
 * that they wait, in arrival order, and are delivered in `setImmediate` batches of at most
 * `budgetMs` each, so replication and every other socket get a turn between batches. Once the
 * queue is empty again, deliveries are immediate again. Acknowledgements follow delivery, so a slow consumer slows its
 * sender instead of filling the connection.
 */
export class DeliveryQueue<T> {
  private items: Array<T | undefined> = []
  private head = 0
  private turnStart = -1
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
    const now = performance.now()
    if (this.turnStart < 0) {
      this.turnStart = now
      return true
    }
    return now - this.turnStart < this.budgetMs
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

  private drain(): void {
    this.immediate = null
    const start = performance.now()
    while (this.head < this.items.length && !this.closed) {
      const item = this.items[this.head] as T
      this.items[this.head++] = undefined
      this.deliver(item)
      if (performance.now() - start >= this.budgetMs) break
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
