import { ChildProcessWithoutNullStreams, spawn } from 'child_process'
import { buildSync } from 'esbuild'
import os from 'os'
import path from 'path'
import readline from 'readline'
import type { Topology } from './netns'

/**
 * The host processes of the namespace test bed (host-process.ts), shared by the partition suite
 * and the hosts soak: start one inside a host's namespace, send it commands, wait for its events.
 */

/** One JSON line from a host (see host-process.ts for the events). */
export interface HostEvent {
  event: string
  /** Date.now() on the host when it happened. */
  at?: number
  [field: string]: unknown
}

const ROOT = path.join(__dirname, '../..')
const SCRIPT = path.join(__dirname, 'host-process.ts')
/** How long `stop()` waits for a clean exit before SIGKILL. */
const STOP_GRACE_MS = 5000

export class Host {
  readonly events: HostEvent[] = []
  /** The remote keys of the host's current peers (its last `peers` event). */
  peers: string[] = []
  /** The latest event of each kind. */
  readonly latest = new Map<string, HostEvent>()
  private waiters: Array<() => void> = []
  private readonly exit: Promise<void>

  constructor(
    readonly name: string,
    readonly child: ChildProcessWithoutNullStreams,
    opts: { onEvent?: (event: HostEvent) => void; onStderr?: (text: string) => void } = {}
  ) {
    const { onEvent, onStderr = (text) => process.stderr.write(`[${name}] ${text}`) } = opts
    this.exit = new Promise((resolve) => child.once('exit', () => resolve()))
    child.stdin.on('error', () => {}) // a killed host's stdin: nothing to tell it any more
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      let event: HostEvent
      try {
        event = JSON.parse(line) as HostEvent
      } catch {
        return
      }
      if (event.event === 'peers') this.peers = event.keys as string[]
      this.events.push(event)
      this.latest.set(event.event, event)
      onEvent?.(event)
      for (const wake of this.waiters.splice(0)) wake()
    })
    child.stderr.on('data', (chunk: Buffer) => onStderr(chunk.toString()))
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null
  }

  send(command: Record<string, unknown>): void {
    if (!this.exited && this.child.stdin.writable) this.child.stdin.write(JSON.stringify(command) + '\n')
  }

  /** The first event from index `since` on that passes `match`. */
  find(match: (e: HostEvent) => boolean, since = 0): HostEvent | undefined {
    for (let i = since; i < this.events.length; i++) if (match(this.events[i])) return this.events[i]
    return undefined
  }

  /** Waits for the first event from `since` on that passes `match`. */
  async next(match: (e: HostEvent) => boolean, ms = 30_000, since = 0): Promise<HostEvent> {
    const deadline = Date.now() + ms
    for (;;) {
      const found = this.find(match, since)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`${this.name}: timed out; events: ${JSON.stringify(this.events.filter((e) => e.event !== 'peers').slice(-25))}`)
      if (this.exited) throw new Error(`${this.name}: exited (${String(this.child.exitCode ?? this.child.signalCode)}) while waiting`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void> {
    if (!this.exited) this.child.kill('SIGKILL')
    return this.exit
  }

  /** Closes stdin (the host closes its networker and store and exits); SIGKILL after a grace. */
  stop(): Promise<void> {
    if (this.exited) return Promise.resolve()
    const kill = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS)
    this.child.stdin.end()
    return this.exit.then(() => clearTimeout(kill))
  }
}

/** Polls `condition` every 50 ms; resolves with the ms it took, rejects after `ms`. */
export async function until(condition: () => boolean, ms: number, what: string): Promise<number> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return Date.now() - start
}

/**
 * Starts host processes in a topology's namespaces. host-process.ts is bundled once (esbuild,
 * packages left external and found through NODE_PATH) into `workDir`: a host then starts in
 * about 0.5 s of CPU instead of about 3 s under ts-node, which matters with 50 of them on 2 cores.
 */
export class HostLauncher {
  readonly hosts: Host[] = []
  private readonly script: string

  /**
   * @param env Added to every host's environment.
   * @param priority The hosts' scheduling priority (nice value), when it is not the caller's own:
   *   a runner that raised its own priority to keep time gives the hosts the usual one back.
   */
  constructor(
    private readonly topology: Topology,
    workDir: string,
    private readonly env: NodeJS.ProcessEnv = {},
    private readonly priority: number | null = null
  ) {
    this.script = path.join(workDir, 'host-process.js')
    buildSync({
      entryPoints: [SCRIPT],
      outfile: this.script,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      packages: 'external',
      logLevel: 'warning'
    })
  }

  start(index: number, name: string, args: readonly string[], opts: ConstructorParameters<typeof Host>[2] = {}): Host {
    const [cmd, ...prefix] = this.topology.exec(index)
    // SOAK_HOST_NODE_ARGS: extra node flags for every host, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`;
    // with SOAK_HOST_NODE_ARGS_ONLY=<name> (e.g. reader5), for that host alone: profiling all fifty
    // slows the run too much to show it as it is.
    const only = process.env.SOAK_HOST_NODE_ARGS_ONLY
    const nodeArgs = only !== undefined && only !== name ? [] : (process.env.SOAK_HOST_NODE_ARGS ?? '').split(' ').filter(Boolean)
    const child = spawn(cmd, [...prefix, process.execPath, ...nodeArgs, this.script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, NODE_PATH: path.join(ROOT, 'node_modules') },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    if (this.priority !== null && child.pid !== undefined) os.setPriority(child.pid, this.priority)
    const host = new Host(name, child, opts)
    this.hosts.push(host)
    return host
  }

  /** Stops every host that is still running (see `Host.stop`). */
  async stopAll(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.stop()))
  }

  /** Last resort (process exit, a signal): SIGKILL every host now, without waiting. */
  killAllNow(): void {
    for (const host of this.hosts) if (!host.exited) host.child.kill('SIGKILL')
  }
}
