import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import Corestore from 'corestore'
import fs from 'fs'
import os from 'os'
import path from 'path'
import readline from 'readline'
import v8 from 'v8'
import vm from 'vm'
import { ChildProcessWithoutNullStreams, spawn } from 'child_process'
import { Observable, filter, firstValueFrom, timeout } from 'rxjs'
import { ReactiveNetworker, NetworkerOptions } from '../lib/reactive-networker'
import { createLocalNetwork, LocalNetwork } from '../lib/testnet'
import type { Peer } from '../lib/peer'

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
 * Runs a full garbage collection (twice, so finalizers of the first can free more), for leak
 * audits. Node exposes `gc` only with --expose-gc; the flag is set here and read by a new context.
 */
export function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  gc()
  gc()
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

/** Resolves with the first value of `source` that passes `predicate`, or rejects after `ms`. */
export function waitFor<T>(source: Observable<T>, predicate: (value: T) => boolean, ms = 20_000): Promise<T> {
  return firstValueFrom(source.pipe(filter(predicate), timeout(ms)))
}

/** Resolves once the networker's peer set has exactly `count` peers. */
export function waitForPeers(networker: ReactiveNetworker, count: number, ms = 20_000): Promise<readonly Peer[]> {
  return waitFor(networker.peers$, (peers) => peers.length === count, ms)
}

/** A random 32-byte topic. */
/** The Noise secret stream behind a peer (`Peer.stream` is typed structurally, browser-safe). */
export function noiseOf(peer: Peer): NoiseSecretStream {
  return peer.stream as unknown as NoiseSecretStream
}

export function randomTopic(): Buffer {
  return Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256)))
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `condition` every 20 ms until it holds; rejects after `ms`. */
export async function until(condition: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** Two networkers on a fresh topic, `a` announcing and `b` looking up, once both see each other. */
export async function connectedPair(h: Harness): Promise<{ a: ReactiveNetworker; b: ReactiveNetworker; topic: Buffer }> {
  const topic = randomTopic()
  const a = h.networker()
  const b = h.networker()
  await a.configure(topic, { announce: true, lookup: false })
  await b.configure(topic, { announce: false, lookup: true })
  await waitForPeers(a, 1)
  await waitForPeers(b, 1)
  return { a, b, topic }
}

/**
 * Swarm options with a DHT node that assumes a firewall (HyperDHT's default), so connections go
 * through the holepunch path, as between peers behind NATs. There Hyperswarm's duplicate
 * resolution shows (crossed connections), which the dedup tests need to provoke. Only within
 * one process: between processes on loopback this path opens one-sided connections.
 */
export function firewalledOptions(h: Harness): { dht: HyperDHT } {
  return { dht: new HyperDHT({ bootstrap: [...h.net.bootstrap], host: '127.0.0.1', ephemeral: true }) }
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
    ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'fixtures', name), ...args],
    { cwd: path.join(__dirname, '..'), stdio: ['pipe', 'pipe', 'pipe'] }
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
