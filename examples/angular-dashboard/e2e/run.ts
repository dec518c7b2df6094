/**
 * The Angular dashboard (built with `ng build`) in real headless Chromium against live networkers
 * served by `serveNetworker` in a child process (e2e/server.ts): three peers appear, a message
 * arrives, the configure form joins a topic, a closed networker vanishes, the throughput chart
 * (uPlot) draws each peer's traffic and a core's progress bar moves to synced as blocks flow
 * (metrics$), a killed and restarted server leaves the page showing the true state, and a wrong
 * token or a foreign origin is refused.
 *
 * The README's screenshot comes from here: `UPDATE_SCREENSHOT=1` writes
 * docs/img/angular-dashboard.png once the chart and the bars show data (plain runs leave the
 * working tree alone).
 *
 * Run from examples/angular-dashboard after `npm ci && npx ng build`, with the library's
 * dependencies installed at the repository root: `bash .ci/angular` does all of it. Prints
 * "N passed, M failed" and exits non-zero on a failure. Chromium: test/chromium.ts.
 */
import assert from 'assert/strict'
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process'
import fs from 'fs'
import http from 'http'
import type { AddressInfo } from 'net'
import os from 'os'
import path from 'path'
import readline from 'readline'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { CHROMIUM_ARGS, chromiumPath } from '../../../test/chromium'

const ROOT = path.join(__dirname, '..', '..', '..')
const DIST = path.join(__dirname, '..', 'dist', 'angular-dashboard', 'browser')
const TOKEN = 'e2e-secret'
const SCREENSHOT = path.join(ROOT, 'docs', 'img', 'angular-dashboard.png')
/** Bytes of a block the server appends (e2e/server.ts). */
const BLOCK_SIZE = 4096

interface Ready {
  url: string
  ws: string
  host: string
  peers: string[]
  /** The discovery key of the core the first peer writes and the host downloads. */
  feed: string
}

/** One run of e2e/server.ts. */
class ServerProcess {
  readonly lines: Array<Record<string, unknown>> = []
  private readonly waiters: Array<() => void> = []

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        return
      }
      for (const wake of this.waiters.splice(0)) wake()
    })
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk))
  }

  static start(port: number, peers: number, dir: string): ServerProcess {
    const child = spawn(
      process.execPath,
      ['-r', require.resolve('ts-node/register/transpile-only'), path.join(__dirname, 'server.ts'), String(port), TOKEN, String(peers), dir],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') } }
    )
    return new ServerProcess(child)
  }

  async line(predicate: (line: Record<string, unknown>, index: number) => boolean, ms = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms
    for (;;) {
      const found = this.lines.find(predicate)
      if (found) return found
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error('the server process did not answer')
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 200)
      })
    }
  }

  async ready(): Promise<Ready> {
    return (await this.line((l) => l.ready === true)) as unknown as Ready
  }

  send(command: string): void {
    this.child.stdin.write(`${command}\n`)
  }

  /** Sends a command and waits for its answer: the first line after it with `field`. */
  async ask(command: string, field: string): Promise<Record<string, unknown>> {
    const from = this.lines.length
    this.send(command)
    return this.line((l, index) => index >= from && field in l)
  }

  kill(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve()
      this.child.once('exit', () => resolve())
      this.child.kill('SIGKILL')
    })
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.send('stop')
    await Promise.race([this.line((l) => l.stopped === true, 15_000).catch(() => {}), new Promise((r) => setTimeout(r, 15_000))])
    await this.kill()
  }
}

const tests: Array<{ name: string; run: () => Promise<void> }> = []
const test = (name: string, run: () => Promise<void>): void => {
  tests.push({ name, run })
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-angular-e2e-'))
let server: ServerProcess
let ready: Ready
let port: number
let browser: BrowserContext
let page: Page
const extraPages: Page[] = []
const sorted = (keys: readonly string[]): string[] => [...keys].sort()
const rowKeys = async (p: Page): Promise<string[]> =>
  sorted(await p.locator('#peers tr[data-key]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key') ?? '')))
const waitRows = (p: Page, count: number): Promise<unknown> =>
  p.waitForFunction(`document.querySelectorAll('#peers tr[data-key]').length === ${count}`, null, { timeout: 20_000 })

test('three peers appear', async () => {
  page = await browser.newPage()
  // Metrics samples every 200 ms, for the chart and bars below.
  await page.goto(`${ready.url}#token=${TOKEN}&interval=200`)
  await page.locator('#status[data-state="open"]').waitFor({ timeout: 20_000 })
  await waitRows(page, 3)
  assert.deepEqual(await rowKeys(page), sorted(ready.peers))
})

test('an extension message appears (async pipe)', async () => {
  server.send('chat 0 hello from the first peer')
  await page.locator('#messages li', { hasText: 'hello from the first peer' }).waitFor({ timeout: 20_000 })
})

test('the configure form joins a topic until it is flushed', async () => {
  const topic = 'ab'.repeat(32)
  await page.fill('#topic', topic)
  await page.click('#configure button[type="submit"]')
  await page.locator(`#topics li[data-key="${topic}"][data-flushed="true"]`).waitFor({ timeout: 20_000 })
  assert.match((await page.locator('#configure-result').textContent()) ?? '', /configured abababab: joined/)
})

test('a closed networker vanishes', async () => {
  const leaving = ready.peers[2]
  server.send('close 2')
  await page.locator(`#peers tr[data-key="${leaving}"]`).waitFor({ state: 'detached', timeout: 20_000 })
  assert.deepEqual(await rowKeys(page), sorted(ready.peers.slice(0, 2)))
})

/** What the page's throughput chart shows: samples drawn, uPlot series, peers in the legend. */
interface ChartView {
  readonly samples: number
  readonly series: number
  readonly peers: string[]
  readonly canvas: boolean
}
const chartOf = (p: Page): Promise<ChartView> =>
  p.locator('app-traffic-chart').evaluate((chart) => ({
    samples: Number(chart.getAttribute('data-samples')),
    series: Number(chart.getAttribute('data-series')),
    peers: [...chart.querySelectorAll('li[data-key]')].map((li) => li.getAttribute('data-key') ?? ''),
    canvas: chart.querySelector('canvas') !== null
  }))

/**
 * Records in the page every value `attribute` takes on the element `selector` finds from now on
 * (a MutationObserver), so a value shown for one sample is not missed; `seen` reads them back.
 */
const record = (p: Page, name: string, selector: string, attribute: string): Promise<void> =>
  p.evaluate(`(() => {
    const values = ((window.__seen ??= {})[${JSON.stringify(name)}] = [])
    const target = document.querySelector(${JSON.stringify(selector)})
    if (target === null) throw new Error('no element ' + ${JSON.stringify(selector)})
    const read = () => values.push(target.getAttribute(${JSON.stringify(attribute)}) ?? '')
    read()
    new MutationObserver(read).observe(target, { attributes: true, attributeFilter: [${JSON.stringify(attribute)}] })
  })()`) as Promise<void>
const seen = (p: Page, name: string): Promise<string[]> => p.evaluate(`window.__seen[${JSON.stringify(name)}]`) as Promise<string[]>

test('the throughput chart draws each peer’s traffic and changes as blocks flow', async () => {
  const writer = ready.peers[0]
  const row = `app-traffic-chart li[data-key="${writer}"]`
  await page.locator(row).waitFor({ timeout: 20_000 })
  const before = await chartOf(page)
  assert.ok(before.canvas, 'uPlot drew no canvas')
  assert.ok(before.samples > 0)
  assert.equal(before.series, 2 * before.peers.length, 'one series in and one out per peer')
  for (const key of ready.peers.slice(0, 2)) assert.ok(before.peers.includes(key), `peer ${key.slice(0, 8)} is not on the chart`)

  // The first peer appends 1,000 blocks of 4 KiB and the host downloads them: its "in" rate shows it.
  await record(page, 'writer-in', row, 'data-in')
  await server.ask('append 1000', 'appended')
  await server.ask('download 1000', 'downloaded')
  await page.waitForFunction(
    `(window.__seen['writer-in'] ?? []).some((value) => Number(value) > ${BLOCK_SIZE})`,
    null,
    { timeout: 20_000 }
  )
  await page.waitForFunction(`Number(document.querySelector('app-traffic-chart').dataset.samples) >= ${before.samples + 2}`, null, {
    timeout: 20_000
  })
  const after = await chartOf(page)
  assert.ok(after.samples > before.samples, 'the sample count did not grow')
  assert.equal(after.series, 2 * after.peers.length)
  const peak = Math.max(...(await seen(page, 'writer-in')).map(Number))
  console.log(`  (samples ${before.samples} -> ${after.samples}, series ${after.series} for ${after.peers.length} peers, writer in peak ${peak} B/s)`)
})

test('a progress bar per core moves and reaches synced', async () => {
  const core = `#cores li[data-key="${ready.feed}"]`
  const bar = `${core} [role="progressbar"]`
  await page.locator(bar).waitFor({ timeout: 20_000 })
  await record(page, 'bar', bar, 'aria-valuenow')
  const length = Number((await server.ask('append 3000', 'appended')).length)
  // The host downloads a third, two thirds, then all of it: the bar shows each step.
  const ends = [Math.round(length / 3), Math.round((2 * length) / 3), length]
  for (const end of ends) {
    await server.ask(`download ${end}`, 'downloaded')
    const percent = Math.round((end / length) * 1000) / 10
    const synced = end === length
    await page.locator(`${core}[data-synced="${synced}"] [role="progressbar"][aria-valuenow="${percent}"]`).waitFor({ timeout: 20_000 })
    assert.match((await page.locator(`${core} .detail`).textContent()) ?? '', new RegExp(`^${percent}% · ${end}/${length} blocks · 1 peer · `))
  }
  assert.match((await page.locator(`${core} .detail`).textContent()) ?? '', /· synced$/)
  assert.equal(await page.locator(core).getAttribute('data-progress'), '1')
  const values = (await seen(page, 'bar')).map(Number)
  assert.ok(values.some((v) => v > 0 && v < 100), `no value between 0 and 100: ${values.join(', ')}`)
  assert.equal(values.at(-1), 100)
  console.log(`  (bar showed ${[...new Set(values)].join(' -> ')} %)`)

  // The picture for the docs (written on request only), once the bar's fill has slid to its width.
  await page.evaluate('Promise.all(document.getAnimations().map((animation) => animation.finished))')
  const png = await page.screenshot({ fullPage: true })
  assert.equal(png.subarray(1, 4).toString(), 'PNG')
  if (process.env.UPDATE_SCREENSHOT === '1') {
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true })
    fs.writeFileSync(SCREENSHOT, png)
    console.log(`  (wrote ${path.relative(ROOT, SCREENSHOT)})`)
  }
})

test('the chart follows the width of the window', async () => {
  const canvasWidth = (): Promise<number> =>
    page.evaluate(`document.querySelector('app-traffic-chart .plot canvas').getBoundingClientRect().width`) as Promise<number>
  const plotWidth = (): Promise<number> =>
    page.evaluate(`document.querySelector('app-traffic-chart .plot').clientWidth`) as Promise<number>
  const viewport = page.viewportSize() ?? { width: 1280, height: 720 }
  try {
    const wide = await canvasWidth()
    await page.setViewportSize({ width: Math.round(viewport.width * 0.6), height: viewport.height })
    await page.waitForFunction(
      `(() => { const plot = document.querySelector('app-traffic-chart .plot'); const canvas = plot.querySelector('canvas'); return Math.abs(canvas.getBoundingClientRect().width - Math.max(320, plot.clientWidth)) < 2 })()`,
      null,
      { timeout: 10_000 }
    )
    const narrow = await canvasWidth()
    assert.ok(narrow < wide, `the chart stayed ${wide} px wide in a narrower window`)
    console.log(`  (chart ${Math.round(wide)} -> ${Math.round(narrow)} px, its container ${await plotWidth()} px)`)
  } finally {
    await page.setViewportSize(viewport)
  }
})

test('an interval the networker refuses (#interval=50) is ignored: the page starts with the default', async () => {
  const other = await browser.newPage()
  extraPages.push(other)
  const warnings: string[] = []
  other.on('console', (message) => {
    if (message.type() === 'warning') warnings.push(message.text())
  })
  await other.goto(`${ready.url}#token=${TOKEN}&interval=50`)
  await other.locator('#status[data-state="open"]').waitFor({ timeout: 20_000 })
  await other.waitForFunction(`Number(document.querySelector('app-traffic-chart')?.dataset.samples) >= 1`, null, { timeout: 20_000 })
  assert.ok(warnings.some((text) => text.includes('#interval=50 ignored')), `no warning: ${warnings.join(' | ')}`)
  await other.close()
})

test('killing and restarting the server: after reconnecting the page shows the true state', async () => {
  const before = ready.peers
  await server.kill()
  await page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 20_000 })
  server = ServerProcess.start(port, 2, dir)
  ready = await server.ready()
  const restarted = Date.now()
  await page.waitForFunction(
    `(() => { const keys = [...document.querySelectorAll('#peers tr[data-key]')].map((r) => r.dataset.key).sort(); return JSON.stringify(keys) === ${JSON.stringify(
      JSON.stringify(sorted(ready.peers))
    )} })()`,
    null,
    { timeout: 30_000 }
  )
  const shown = Date.now() - restarted
  await page.locator('#status[data-state="open"]').waitFor({ timeout: 5000 })
  const keys = await rowKeys(page)
  for (const key of before) assert.ok(!keys.includes(key), 'a stale peer is still shown')
  // The topic joined from the form before the kill is gone too: the new server never joined it.
  assert.equal(await page.locator(`#topics li[data-key="${'ab'.repeat(32)}"]`).count(), 0)
  console.log(`  (page showed the restarted server's peers ${shown} ms after it listened)`)
})

test('a wrong token is refused (4401): nothing shown', async () => {
  const wrong = await browser.newPage()
  extraPages.push(wrong)
  await wrong.goto(`${ready.url}#token=wrong`)
  await wrong.locator('#status[data-state="closed"][data-code="4401"]').waitFor({ timeout: 20_000 })
  assert.equal(await wrong.locator('#peers tr').count(), 0)
})

test('a page from another origin is refused (4403)', async () => {
  const foreign = http.createServer((request, response) => {
    const name = path.basename(new URL(request.url ?? '/', 'http://x.invalid').pathname)
    const file = name !== '' && fs.existsSync(path.join(DIST, name)) ? path.join(DIST, name) : path.join(DIST, 'index.html')
    response.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'text/html' })
    fs.createReadStream(file).pipe(response)
  })
  await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', () => resolve()))
  try {
    const other = await browser.newPage()
    extraPages.push(other)
    const foreignPort = (foreign.address() as AddressInfo).port
    await other.goto(`http://127.0.0.1:${foreignPort}/#server=${encodeURIComponent(ready.ws)}&token=${TOKEN}`)
    await other.locator('#status[data-state="closed"][data-code="4403"]').waitFor({ timeout: 20_000 })
    assert.equal(await other.locator('#peers tr').count(), 0)
  } finally {
    foreign.closeAllConnections()
    await new Promise<void>((resolve) => foreign.close(() => resolve()))
  }
})

async function main(): Promise<number> {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error(`${DIST} is missing: run npx ng build first`)
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-angular-chromium-'))
  let passed = 0
  let failed = 0
  try {
    server = ServerProcess.start(0, 3, dir)
    ready = await server.ready()
    port = Number(new URL(ready.url).port)
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: await chromiumPath(),
      headless: true,
      viewport: { width: 1280, height: 800 },
      // uPlot formats numbers with Intl for navigator.language: a POSIX locale of the environment
      // (e.g. en-US@posix) is no language tag Intl takes.
      locale: 'en-US',
      args: [...CHROMIUM_ARGS]
    })
    try {
      for (const { name, run } of tests) {
        const started = Date.now()
        try {
          await run()
          passed++
          console.log(`✓ ${name} (${Date.now() - started} ms)`)
        } catch (err) {
          failed++
          console.log(`✕ ${name}\n  ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
        }
      }
    } finally {
      for (const p of extraPages) await p.close().catch(() => {})
      await page?.close().catch(() => {})
      await browser.close()
    }
  } finally {
    await server?.stop()
    fs.rmSync(userDataDir, { recursive: true, force: true })
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log(`${passed} passed, ${failed} failed`)
  return failed === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  }
)
