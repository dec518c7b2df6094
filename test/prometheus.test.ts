/**
 * A real Prometheus (Debian's `prometheus` package) scrapes a networker's endpoint on 127.0.0.1
 * and the test reads a series back through Prometheus's HTTP query API.
 *
 * The binary: PROMETHEUS_PATH, else /usr/bin/prometheus, else on PATH. When none is there and the
 * test runs as root with apt-get, it installs Debian's package (as .ci/run does); otherwise it
 * fails saying what is missing. Prometheus listens on a port of its own (never 9090, where a
 * service the package started may listen) and keeps its data in a temp dir removed afterwards.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process'
import fs from 'fs'
import http from 'http'
import type { AddressInfo } from 'net'
import os from 'os'
import path from 'path'
import { Registry } from 'prom-client'
import { registerPrometheus } from '../lib/prometheus'
import { createHarness, Harness, randomTopic, waitForPeers } from './kit'

const INSTALL_TIMEOUT_MS = 15 * 60_000

function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name)
    if (dir !== '' && fs.existsSync(candidate)) return candidate
  }
  return null
}

/** The prometheus binary, installed from Debian's package when it is missing and we may. */
function findPrometheus(): string {
  const given = process.env.PROMETHEUS_PATH
  if (given !== undefined && given !== '') {
    if (!fs.existsSync(given)) throw new Error(`PROMETHEUS_PATH=${given} does not exist`)
    return given
  }
  const found = ['/usr/bin/prometheus'].find((p) => fs.existsSync(p)) ?? which('prometheus')
  if (found !== null) return found
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || which('apt-get') === null) {
    throw new Error(
      'The Prometheus test needs the prometheus binary and found none (PROMETHEUS_PATH, /usr/bin/prometheus, PATH); ' +
        'it installs Debian’s package by itself only as root with apt-get. Install it (`apt-get install -y prometheus`) ' +
        'or set PROMETHEUS_PATH.'
    )
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    execFileSync('apt-get', ['update'], { env, stdio: 'ignore', timeout: INSTALL_TIMEOUT_MS })
    execFileSync('apt-get', ['install', '-y', 'prometheus'], { env, stdio: 'ignore', timeout: INSTALL_TIMEOUT_MS })
  } catch (err) {
    throw new Error(`The Prometheus test could not install Debian’s prometheus package (apt-get install -y prometheus): ${String(err)}`)
  }
  if (!fs.existsSync('/usr/bin/prometheus')) throw new Error('apt-get installed prometheus but /usr/bin/prometheus is missing')
  return '/usr/bin/prometheus'
}

/** A TCP port free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = http.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => {
          try {
            resolve(JSON.parse(body))
          } catch (err) {
            reject(err)
          }
        })
      })
      .on('error', reject)
  })
}

interface QueryResult {
  readonly status: string
  readonly data: { readonly result: ReadonlyArray<{ readonly metric: Record<string, string>; readonly value: [number, string] }> }
}

let binary: string
let h: Harness
let dir: string
let prometheus: ChildProcess | null = null
let server: http.Server | null = null
let log = ''

beforeAll(() => {
  binary = findPrometheus()
}, INSTALL_TIMEOUT_MS)

beforeEach(async () => {
  h = await createHarness()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-prometheus-'))
})

afterEach(async () => {
  const child = prometheus
  prometheus = null
  if (child !== null && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())))
  server = null
  await h.cleanup()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('a real Prometheus scrapes the networker’s endpoint and its query API shows what metrics() shows', async () => {
  const a = h.networker()
  const registry = new Registry()
  registerPrometheus(a, registry)
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: false })
  const others = [h.networker(), h.networker()]
  for (const other of others) await other.configure(topic, { announce: false, lookup: true })
  await waitForPeers(a, 2)

  server = http.createServer((req, res) => {
    registry
      .metrics()
      .then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType })
        res.end(text)
      })
      .catch((err: unknown) => {
        res.writeHead(500)
        res.end(String(err))
      })
  })
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`

  const webPort = await freePort()
  const config = path.join(dir, 'prometheus.yml')
  fs.writeFileSync(
    config,
    ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', '  - job_name: networker', '    static_configs:', `      - targets: ['${target}']`, ''].join('\n')
  )
  prometheus = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${webPort}`,
      `--web.console.templates=${path.join(dir, 'consoles')}`,
      `--web.console.libraries=${path.join(dir, 'console_libraries')}`
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  prometheus.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()))
  prometheus.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)))

  const query = async (expr: string): Promise<QueryResult | null> => {
    if (prometheus?.exitCode !== null) throw new Error(`prometheus exited (${String(prometheus?.exitCode)}):\n${log}`)
    return (await getJson(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(expr)}`).catch(() => null)) as QueryResult | null
  }
  let result: QueryResult | null = null
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    result = await query('basestore_networker_peers')
    if (result?.status === 'success' && result.data.result.length > 0) break
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  if (result === null || result.data.result.length === 0) throw new Error(`Prometheus never showed basestore_networker_peers:\n${log}`)
  const [series] = result.data.result
  expect(series.metric).toMatchObject({ __name__: 'basestore_networker_peers', job: 'networker', instance: target })
  expect(Number(series.value[1])).toBe(a.metrics().swarm.peers)
  expect(Number(series.value[1])).toBe(2)

  // A labelled series of ours, and one of Holepunch's, came through the same scrape.
  const perPeer = await query('basestore_networker_peer_bytes_sent_total')
  expect(perPeer?.data.result).toHaveLength(2)
  const up = await query('up')
  expect(up?.data.result.map((r) => r.value[1])).toEqual(['1'])
  const swarmPeers = await query('hyperswarm_nr_peers')
  expect(swarmPeers?.data.result.map((r) => Number(r.value[1]))).toEqual([2])
}, 120_000)
