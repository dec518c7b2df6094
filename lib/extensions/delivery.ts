/** The most deliveries between two reads of the clock. */
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
 * The clock is not read for every message (a read is a sizeable share of a small message's
 * cost). A turn that delivers one message reads it never: the first read comes at the second
 * delivery, and counts the first as having taken as long as a delivery took at the last
 * measurement. After each read, the next comes after as many deliveries as fit in half the
 * budget left at the pace just measured (at least 1, at most `MAX_STRIDE`): a consumer that
 * takes milliseconds per message is timed at every message, a fast one every 32.
 */
export class DeliveryQueue<T> {
  private items: Array<T | undefined> = []
  private head = 0
  /** A turn is under way; `timed` once its start is known (`turnStart`). */
  private inTurn = false
  private timed = false
  private turnStart = 0
  /** The clock at the last read, deliveries since, deliveries before the next read. */
  private lastRead = 0
  private sinceRead = 0
  private stride = 1
  /** Milliseconds per delivery at the last measurement (0: none yet). */
  private each = 0
  private immediate: ReturnType<typeof setImmediate> | null = null
  private closed = false
  private readonly drainBound = (): void => this.drain()

  constructor(
    private readonly deliver: (item: T) => void,
    private readonly budgetMs: number,
    /** Milliseconds, monotonic (injectable for tests). */
    private readonly clock: () => number = () => performance.now()
  ) {}

  /** Whether a message arriving now may be delivered at once (nothing waits, budget left). */
  canDeliverNow(): boolean {
    if (this.closed || this.immediate !== null || this.head < this.items.length) return false
    if (!this.inTurn) {
      this.inTurn = true
      this.timed = false
      this.sinceRead = 0
      this.stride = 1
      return true
    }
    return ++this.sinceRead < this.stride || this.budgetLeft()
  }

  /** The synchronous run that delivered is over (nothing waits): the next one gets a fresh budget. */
  endTurn(): void {
    if (this.immediate === null && this.head === this.items.length) this.inTurn = false
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

  /** Reads the clock: false once the turn's budget is spent, else sets when to read it again. */
  private budgetLeft(): boolean {
    const now = this.clock()
    if (this.timed) {
      this.each = (now - this.lastRead) / this.sinceRead
    } else {
      // The first read of a turn: the deliveries before it are assumed to have taken `each`.
      this.timed = true
      this.turnStart = now - this.sinceRead * this.each
    }
    this.lastRead = now
    const left = this.budgetMs - (now - this.turnStart)
    if (left <= 0) return false
    this.stride = this.each > 0 ? Math.max(1, Math.min(MAX_STRIDE, Math.floor(left / (2 * this.each)))) : 1
    this.sinceRead = 0
    return true
  }

  private drain(): void {
    this.immediate = null
    this.inTurn = this.timed = true
    this.turnStart = this.lastRead = this.clock()
    this.sinceRead = 0
    this.stride = 1
    while (this.head < this.items.length && !this.closed) {
      const item = this.items[this.head] as T
      this.items[this.head++] = undefined
      this.deliver(item)
      if (++this.sinceRead >= this.stride && !this.budgetLeft()) break
    }
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
      this.inTurn = false
    } else if (this.head >= 1024) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    if (this.head < this.items.length && !this.closed) this.immediate = setImmediate(this.drainBound)
  }
}
