/**
 * The parent's handle on the victim process (test/fixtures/fuzz-victim.ts): starts it, talks to
 * it (JSON lines), and knows when it died and of what.
 */
import path from 'path'
import readline from 'readline'
import { ChildProcessWithoutNullStreams, spawn } from 'child_process'
import type { HonestCount, SequenceFigures, VictimConfig, VictimEvent, VictimReply } from './protocol'

const ROOT = path.join(__dirname, '..', '..')
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'fuzz-victim.ts')
const STDERR_TAIL = 16 * 1024

/** How the victim died. */
export interface Death {
  /** What `uncaughtExceptionMonitor` saw, if it saw anything (not for OOM or a signal). */
  readonly crash: { readonly origin: string; readonly name: string; readonly message: string; readonly stack: string } | null
  readonly code: number | null
  readonly signal: string | null
  /** The end of its stderr (an OOM's "FATAL ERROR", a native abort). */
  readonly stderr: string
}

export interface VictimStart {
  readonly bootstrap: ReadonlyArray<{ readonly host: string; readonly port: number }>
  readonly dir: string
  readonly topic: Buffer
  readonly config: VictimConfig
  /** V8's old-space limit for the victim (MiB): a heap blow-up ends as an OOM crash, not a swapping machine. */
  readonly maxOldSpaceMb: number
  /** ms to wait for the process to start and listen. */
  readonly startMs?: number
  /** Pass the victim's stderr through (else only kept for reports). */
  readonly echoStderr?: boolean
}

type Request = { cmd: 'ping' } | { cmd: 'honest'; key: string } | { cmd: 'count' } | { cmd: 'begin' } | { cmd: 'snapshot' } | { cmd: 'connections' } | { cmd: 'end' }

/** A request that got no answer: the victim died, or did not answer within the deadline. */
export class VictimGone extends Error {
  constructor(readonly reason: 'died' | 'unresponsive', message: string) {
    super(message)
    this.name = 'VictimGone'
  }
}

export class VictimProcess {
  private readonly pending = new Map<number, { resolve: (reply: VictimReply) => void; reject: (err: Error) => void }>()
  private nextId = 1
  private stderr = ''
  private crash: Death['crash'] = null
  private exit: { code: number | null; signal: string | null } | null = null
  private readonly exited: Promise<void>
  publicKey: Buffer = Buffer.alloc(0)

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    /** The topic it announces. */
    readonly topic: Buffer,
    echoStderr: boolean
  ) {
    child.stderr.on('data', (chunk: Buffer) => {
      if (echoStderr) process.stderr.write(chunk)
      this.stderr = (this.stderr + chunk.toString()).slice(-STDERR_TAIL)
    })
    child.stdin.on('error', () => {}) // writing to a victim that just died
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal }
        for (const { reject } of this.pending.values()) reject(new VictimGone('died', 'the victim process exited'))
        this.pending.clear()
        resolve()
      })
    })
  }

  static async start(opts: VictimStart): Promise<VictimProcess> {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        `--max-old-space-size=${opts.maxOldSpaceMb}`,
        '-r',
        'ts-node/register/transpile-only',
        FIXTURE,
        JSON.stringify(opts.bootstrap),
        opts.dir,
        opts.topic.toString('hex'),
        JSON.stringify(opts.config)
      ],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }
    )
    const victim = new VictimProcess(child, opts.topic, opts.echoStderr ?? false)
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the victim did not start within ${opts.startMs ?? 60_000} ms`)), opts.startMs ?? 60_000)
      void victim.exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`the victim exited while starting: ${victim.stderr.slice(-2000)}`))
      })
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        let message: VictimReply | VictimEvent
        try {
          message = JSON.parse(line) as VictimReply | VictimEvent
        } catch {
          return
        }
        if ('ready' in message) {
          victim.publicKey = Buffer.from(message.publicKey, 'hex')
          clearTimeout(timer)
          resolve()
        } else if ('crash' in message) {
          victim.crash = message.crash
        } else if ('id' in message) {
          const waiter = victim.pending.get(message.id)
          victim.pending.delete(message.id)
          waiter?.resolve(message)
        }
      })
    })
    try {
      await ready
    } catch (err) {
      await victim.kill()
      throw err
    }
    return victim
  }

  get alive(): boolean {
    return this.exit === null
  }

  /** How it died (null while alive). */
  get death(): Death | null {
    if (this.exit === null) return null
    return { crash: this.crash, code: this.exit.code, signal: this.exit.signal, stderr: this.stderr }
  }

  /** Resolves once the process has exited, or after `ms` (then false). */
  async waitExit(ms: number): Promise<boolean> {
    if (this.exit !== null) return true
    let timer: ReturnType<typeof setTimeout> | null = null
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
    const result = await Promise.race([this.exited.then(() => true), timeout])
    if (timer !== null) clearTimeout(timer)
    return result
  }

  ping(ms: number): Promise<void> {
    return this.request({ cmd: 'ping' }, ms).then(() => undefined)
  }

  setHonest(key: Buffer, ms: number): Promise<void> {
    return this.request({ cmd: 'honest', key: key.toString('hex') }, ms).then(() => undefined)
  }

  async count(ms: number): Promise<HonestCount> {
    const reply = await this.request({ cmd: 'count' }, ms)
    if (!('honest' in reply)) throw new Error('unexpected reply to count')
    return reply.honest
  }

  async begin(ms: number): Promise<number> {
    const reply = await this.request({ cmd: 'begin' }, ms)
    if (!('heap' in reply)) throw new Error('unexpected reply to begin')
    return reply.heap
  }

  async snapshot(ms: number): Promise<number> {
    const reply = await this.request({ cmd: 'snapshot' }, ms)
    if (!('heap' in reply)) throw new Error('unexpected reply to snapshot')
    return reply.heap
  }

  async connections(ms: number): Promise<number> {
    const reply = await this.request({ cmd: 'connections' }, ms)
    if (!('open' in reply)) throw new Error('unexpected reply to connections')
    return reply.open
  }

  async end(ms: number): Promise<SequenceFigures> {
    const reply = await this.request({ cmd: 'end' }, ms)
    if (!('figures' in reply)) throw new Error('unexpected reply to end')
    return reply.figures
  }

  /** SIGTERM (the victim closes its networker), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exit !== null) return
    this.child.kill('SIGTERM')
    if (!(await this.waitExit(graceMs))) await this.kill()
  }

  async kill(): Promise<void> {
    if (this.exit !== null) return
    this.child.kill('SIGKILL')
    await this.exited
  }

  private request(request: Request, ms: number): Promise<VictimReply> {
    if (this.exit !== null) return Promise.reject(new VictimGone('died', 'the victim process exited'))
    const id = this.nextId++
    return new Promise<VictimReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new VictimGone('unresponsive', `the victim did not answer "${request.cmd}" within ${ms} ms`))
      }, ms)
      this.pending.set(id, {
        resolve: (reply) => {
          clearTimeout(timer)
          resolve(reply)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        }
      })
      this.child.stdin.write(JSON.stringify({ id, ...request }) + '\n')
    })
  }
}
