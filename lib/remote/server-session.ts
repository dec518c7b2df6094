/**
 * One client of `serveNetworker`: its subscriptions to the networker's streams, its commands in
 * flight, and its bounded send path. Node only (`ws`).
 */
import type { RawData, WebSocket } from 'ws'
import type { Observable, Subscription } from 'rxjs'
import { CloseCodes, RemoteErrorCodes, type JsonValue, type ServerFrame } from './protocol'
import { describeError, parseClientFrame, rawByteLength, rawText, type CommandFrame, type SubFrame } from './server-frames'
import { ClientSends, type SendLimits, type SendTarget } from './server-sends'

/** ms a closing socket has to finish its close handshake before it is terminated. */
export const CLOSE_TIMEOUT = 1000
/** Commands one client may have in flight (a `drained` one until it is answered); more are answered with a failed `result`. */
const MAX_PENDING_COMMANDS = 16

/** What a session needs of the server: its limits, the streams, the commands. */
export interface SessionContext extends SendTarget {
  readonly maxBufferedBytes: number
  readonly maxSubscriptions: number
  readonly sendLimits: SendLimits
  /** The stream a `sub` frame names, or null if it may not be subscribed. */
  stream(frame: SubFrame): Observable<unknown> | null
  configure(frame: Extract<CommandFrame, { op: 'configure' }>): Promise<unknown>
  closed(session: ClientSession): void
}

/** One connected client: its subscriptions and its bounded send path. */
export class ClientSession {
  private readonly subs = new Map<number, Subscription>()
  /** Frames of this turn of the event loop, sent together by `flush`. */
  private queue: string[] = []
  private queuedBytes = 0
  private pending = 0
  private alive = true
  private closing: Promise<void> | null = null
  private readonly sends: ClientSends

  constructor(
    private readonly ws: WebSocket,
    private readonly context: SessionContext
  ) {
    this.sends = new ClientSends(context, context.sendLimits)
    ws.on('message', (data, isBinary) => this.receive(data, isBinary))
    ws.on('pong', () => (this.alive = true))
    ws.on('close', () => this.release())
  }

  get subscriptions(): number {
    return this.subs.size
  }

  /** This client's messages waiting behind full extension windows. */
  get waitingSends(): number {
    return this.sends.waiting
  }

  /**
   * Queues a frame unless the client has fallen too far behind, in which case it is closed.
   * Frames queued in one turn of the event loop go out as one WebSocket message (a JSON array).
   */
  send(frame: ServerFrame): void {
    if (this.closing !== null) return
    let text: string
    try {
      text = JSON.stringify(frame)
    } catch {
      return // a value JSON cannot carry (a bigint, a cycle): dropped
    }
    const queued = this.ws.bufferedAmount + this.queuedBytes
    if (queued > 0 && queued + text.length > this.context.maxBufferedBytes) {
      void this.close(CloseCodes.TOO_SLOW, 'too slow: send buffer full')
      return
    }
    this.queue.push(text)
    this.queuedBytes += text.length
    if (this.queue.length === 1) setImmediate(() => this.flush())
  }

  private flush(): void {
    const frames = this.queue
    this.queue = []
    this.queuedBytes = 0
    if (this.closing !== null || frames.length === 0) return
    this.ws.send(frames.length === 1 ? frames[0] : `[${frames.join(',')}]`)
  }

  ping(): void {
    if (this.closing !== null) return
    if (!this.alive) {
      this.ws.terminate()
      return
    }
    this.alive = false
    this.ws.ping()
  }

  /** Releases every subscription, closes with `code`, and resolves once the socket is gone. */
  close(code: number, reason: string): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.release()
      if (this.ws.readyState === 3) return resolve()
      const timer = setTimeout(() => this.ws.terminate(), CLOSE_TIMEOUT)
      this.ws.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      this.ws.close(code, reason)
    })
    return this.closing
  }

  private release(): void {
    this.queue = []
    this.queuedBytes = 0
    for (const sub of this.subs.values()) sub.unsubscribe()
    this.subs.clear()
    this.sends.close()
    this.context.closed(this)
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closing !== null) return
    if (isBinary) return void this.close(CloseCodes.BAD_FRAME, 'binary frames are not accepted')
    let value: unknown
    try {
      value = JSON.parse(rawText(data))
    } catch {
      return void this.close(CloseCodes.BAD_FRAME, 'a frame is not JSON')
    }
    const frame = parseClientFrame(value)
    if (typeof frame === 'string') return void this.close(CloseCodes.BAD_FRAME, frame)
    switch (frame.op) {
      case 'send':
        return this.answer(frame.id, () => this.sends.send(frame, rawByteLength(data)))
      case 'sub':
        return this.subscribe(frame)
      case 'unsub': {
        const sub = this.subs.get(frame.id)
        this.subs.delete(frame.id)
        sub?.unsubscribe()
        return
      }
      default:
        return this.run(frame)
    }
  }

  private subscribe(frame: SubFrame): void {
    const { id } = frame
    if (this.subs.has(id)) return void this.close(CloseCodes.BAD_FRAME, 'subscription id in use')
    if (this.subs.size >= this.context.maxSubscriptions) return void this.close(CloseCodes.BAD_FRAME, 'too many subscriptions')
    const source = this.context.stream(frame)
    if (source === null) {
      const name = frame.stream === 'messages' ? frame.name : frame.stream
      this.send({ op: 'error', id, code: RemoteErrorCodes.ERR_UNKNOWN_EXTENSION, message: `Extension "${name}" is not published` })
      return
    }
    let done = false
    const sub = source.subscribe({
      next: (value) => this.send({ op: 'next', id, value: value as JsonValue }),
      error: (err: unknown) => {
        done = true
        this.subs.delete(id)
        const { code, message } = describeError(err)
        this.send({ op: 'error', id, code, message })
      },
      complete: () => {
        done = true
        this.subs.delete(id)
        this.send({ op: 'complete', id })
      }
    })
    // A synchronous end, or a close caused by the first values, leaves nothing to keep.
    if (done || this.closing !== null) sub.unsubscribe()
    else this.subs.set(id, sub)
  }

  /** Answers a command that runs at once: its value, or its error as a failed `result`. */
  private answer(id: number, run: () => unknown): void {
    let value: unknown
    try {
      value = run()
    } catch (err) {
      return this.fail(id, err)
    }
    this.send({ op: 'result', id, ok: true, value: (value ?? null) as JsonValue })
  }

  private fail(id: number, err: unknown): void {
    const { code, message } = describeError(err)
    this.send({ op: 'result', id, ok: false, code, message })
  }

  /** `configure` and `drained`: answered later, at most MAX_PENDING_COMMANDS at once. */
  private run(frame: Exclude<CommandFrame, { op: 'send' }>): void {
    const { id } = frame
    if (this.pending >= MAX_PENDING_COMMANDS) {
      this.send({ op: 'result', id, ok: false, code: RemoteErrorCodes.ERR_COMMAND, message: 'too many commands in flight' })
      return
    }
    if (frame.op === 'drained') {
      try {
        this.sends.drained(frame.name, () => {
          this.pending--
          this.send({ op: 'result', id, ok: true, value: null })
        })
      } catch (err) {
        return this.fail(id, err)
      }
      this.pending++
      return
    }
    this.pending++
    this.context
      .configure(frame)
      .then(
        (value) => this.send({ op: 'result', id, ok: true, value: (value ?? null) as JsonValue }),
        (err: unknown) => this.fail(id, err)
      )
      .finally(() => this.pending--)
  }
}
