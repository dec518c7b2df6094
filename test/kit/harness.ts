/**
 * The harness of the integration tests: a loopback network plus factories for stores,
 * networkers, plain swarms and child processes, all torn down by `cleanup()`.
 */
import type HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import Corestore from 'corestore'
import fs from 'fs'
import os from 'os'
import path from 'path'
import readline from 'readline'
import { ChildProcessWithoutNullStreams, spawn } from 'child_process'
import { ReactiveNetworker, NetworkerOptions } from '../../lib/reactive-networker'
import { createLocalNetwork, LocalNetwork } from '../../lib/testnet'

/** The repository's root, and test/fixtures. */
const ROOT = path.join(__dirname, '..', '..')
const FIXTURES = path.join(ROOT, 'test', 'fixtures')

/**
 * A loopback network plus factories for stores and networkers, all torn down by `cleanup()`:
 * networkers closed, stores closed, temp dirs removed, DHT destroyed.
 */
export interface Harness {
  net: LocalNetwork
  store(): Corestore
  storeAt(dir: string): Corestore
  tmpdir(): string
  networker(store?: Corestore, opts?: NetworkerOptions): ReactiveNetworker
  /** Runs `fn` at cleanup, before the stores close (for facades, child processes, …). */
  onCleanup(fn: () => unknown): void
  cleanup(): Promise<void>
}

export async function createHarness(): Promise<Harness> {
  const net = await createLocalNetwork({ size: 3 })
  const dirs: string[] = []
  const stores: Corestore[] = []
  // Open networkers only: a closed one is let go, so a leak audit can see it collected.
  const networkers = new Set<ReactiveNetworker>()
  const extra: Array<() => unknown> = []
  const tmpdir = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-test-'))
    dirs.push(dir)
    return dir
  }
  const storeAt = (dir: string): Corestore => {
    const store = new Corestore(dir)
    stores.push(store)
    return store
  }
  const store = (): Corestore => storeAt(tmpdir())
  return {
    net,
    store,
    storeAt,
    tmpdir,
    networker: (s = store(), opts = {}) => {
      const options = opts.dht ? opts : { ...net.swarmOptions(), ...opts }
      let networker: ReactiveNetworker
      try {
        networker = new ReactiveNetworker(s, options)
      } catch (err) {
        // A constructor that refused its options never took the DHT node over.
        void options.dht?.destroy()
        throw err
      }
      networkers.add(networker)
      const created = networker
      networker.peers$.subscribe({ complete: () => networkers.delete(created) })
      return networker
    },
    onCleanup: (fn) => {
      extra.push(fn)
    },
    cleanup: async () => {
      await Promise.all(extra.map(async (fn) => fn()))
      await Promise.all([...networkers].map((n) => n.close()))
      await Promise.all(stores.map((s) => s.close()))
      await net.destroy()
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * A plain Hyperswarm (no networker) on the harness network, destroyed at cleanup. Every
 * connection gets an `'error'` listener before `onconnection` sees it.
 */
export function plainSwarm(h: Harness, onconnection: (conn: NoiseSecretStream) => void): Hyperswarm {
  const swarm = new Hyperswarm({ dht: h.net.swarmOptions().dht as HyperDHT })
  h.onCleanup(() => swarm.destroy())
  swarm.on('connection', (conn: NoiseSecretStream) => {
    conn.on('error', () => {})
    onconnection(conn)
  })
  return swarm
}

/** A child process running a fixture of test/fixtures, talking JSON lines on stdout. */
export interface Fixture {
  readonly child: ChildProcessWithoutNullStreams
  readonly lines: Array<Record<string, unknown>>
}

/**
 * Starts `test/fixtures/<name>` with ts-node; its stdout JSON lines collect in `lines`, its
 * stderr is passed on, and cleanup SIGKILLs it if it still runs.
 */
export function spawnFixture(h: Harness, name: string, args: string[]): Fixture {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', path.join(FIXTURES, name), ...args],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }
  )
  const fixture: Fixture = { child, lines: [] }
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      fixture.lines.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      // not a JSON line
    }
  })
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk))
  h.onCleanup(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      })
  )
  return fixture
}
