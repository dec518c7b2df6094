/**
 * The back-pressure of remote `send` commands: one wait for each published extension's
 * `drained()`, shared by every client, and each client's budget of messages waiting behind full
 * windows. Node only (a part of `serveNetworker`).
 *
 * A `send` goes to the extension at once (the extension's own window bounds what is in flight
 * per peer); when the window it went into is full, the message waits behind it and counts
 * against the client that sent it until the extension's `drained()` resolves. A client at its
 * budget is refused with `ERR_BACKPRESSURE` and nothing is queued, so what one client can make
 * the server hold beyond the windows is bounded by `maxWaitingSends` and `maxWaitingSendBytes`.
 */
import { RemoteErrorCodes, type RemoteSendResult } from './protocol'
import { coded, type SendFrame } from './server-frames'

/** One extension's `drained()`, called once at a time for whoever waits on it. */
export class DrainWatch {
  private readonly waiting = new Set<() => void>()
  private armed = false
  private closed = false

  constructor(private readonly extension: { drained(): Promise<void> }) {}

  /** Calls `fn` once the extension's windows have room; returns what cancels the wait. */
  add(fn: () => void): () => void {
    if (this.closed) return () => {}
    this.waiting.add(fn)
    if (!this.armed) {
      this.armed = true
      let drained: Promise<void>
      try {
        drained = this.extension.drained()
      } catch {
        drained = Promise.resolve() // a destroyed extension holds nothing to wait for
      }
      drained.then(
        () => this.fire(),
        () => this.fire()
      )
    }
    return () => {
      this.waiting.delete(fn)
    }
  }

  /** Forgets every waiter (the server is closing). */
  close(): void {
    this.closed = true
    this.waiting.clear()
  }

  private fire(): void {
    this.armed = false
    const due = [...this.waiting]
    this.waiting.clear()
    for (const fn of due) fn()
  }
}

/** A client's budget of waiting messages. */
export interface SendLimits {
  /** Messages waiting behind full windows, over all extensions. */
  readonly maxWaitingSends: number
  /** Their bytes (the size of their `send` frames). */
  readonly maxWaitingSendBytes: number
}

/** What a client's sends need of the publication. */
export interface SendTarget {
  /** Sends; returns whether the window is now full; throws a coded error instead. */
  send(frame: SendFrame): boolean
  /** Calls `fn` once extension `name` has drained; returns what cancels it; throws a coded error. */
  onDrained(name: string, fn: () => void): () => void
}

interface Waiting {
  count: number
  bytes: number
  cancel: () => void
}

/** One client's `send` and `drained` commands and the messages it has waiting. */
export class ClientSends {
  /** What waits, per extension name, until that extension drains. */
  private readonly byName = new Map<string, Waiting>()
  private count = 0
  private bytes = 0
  /** Cancels of this client's `drained` commands still waiting. */
  private readonly calls = new Set<() => void>()

  constructor(
    private readonly target: SendTarget,
    private readonly limits: SendLimits
  ) {}

  /** Messages of this client waiting behind full windows. */
  get waiting(): number {
    return this.count
  }

  /**
   * Runs a `send` command of `size` bytes. Throws `ERR_BACKPRESSURE` when the client's budget is
   * spent (nothing is sent), or the target's coded error.
   */
  send(frame: SendFrame, size: number): RemoteSendResult {
    const { maxWaitingSends, maxWaitingSendBytes } = this.limits
    if (this.count > 0 && (this.count >= maxWaitingSends || this.bytes + size > maxWaitingSendBytes)) {
      throw coded(
        RemoteErrorCodes.ERR_BACKPRESSURE,
        `${this.count} messages (${this.bytes} bytes) of this client wait behind full windows: wait for drained() ` +
          `(at most ${maxWaitingSends} messages, ${maxWaitingSendBytes} bytes)`
      )
    }
    const full = this.target.send(frame)
    if (full) this.hold(frame.name, size)
    return { accepted: true, full, waiting: this.count }
  }

  /**
   * Runs a `drained` command: `done` is called once extension `name` has drained. Throws the
   * target's coded error (commands off, an extension not published).
   */
  drained(name: string, done: () => void): void {
    const cancel = this.target.onDrained(name, () => {
      this.calls.delete(cancel)
      done()
    })
    this.calls.add(cancel)
  }

  /** The client left: stop every wait (what it sent stays with the extension). */
  close(): void {
    for (const waiting of this.byName.values()) waiting.cancel()
    this.byName.clear()
    for (const cancel of this.calls) cancel()
    this.calls.clear()
    this.count = 0
    this.bytes = 0
  }

  private hold(name: string, size: number): void {
    this.count++
    this.bytes += size
    const known = this.byName.get(name)
    if (known !== undefined) {
      known.count++
      known.bytes += size
      return
    }
    const waiting: Waiting = { count: 1, bytes: size, cancel: () => {} }
    this.byName.set(name, waiting)
    waiting.cancel = this.target.onDrained(name, () => this.release(name, waiting))
  }

  private release(name: string, waiting: Waiting): void {
    if (this.byName.get(name) !== waiting) return
    this.byName.delete(name)
    this.count -= waiting.count
    this.bytes -= waiting.bytes
  }
}
