/**
 * The live dashboard (examples/dashboard/) end to end, in real headless Chromium driven by
 * playwright-core: four networkers on a loopback testnet, the dashboard on the first.
 *
 * The page talks to the networker through `serveNetworker`/`connectNetworker` (the remote
 * client's ESM build, bundled for the page by esbuild). Chromium: CHROMIUM_PATH, else
 * /usr/bin/chromium, else the one inside `@sparticuz/chromium` (test/chromium.ts); playwright
 * never downloads a browser of its own.
 *
 * The README's screenshot comes from here: `UPDATE_SCREENSHOT=1 npx jest test/dashboard.test.ts`
 * writes docs/img/dashboard.png (plain runs leave the working tree alone).
 */
import fs from 'fs'
import http from 'http'
import os from 'os'
import path from 'path'
import { randomBytes } from 'crypto'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type Corestore from 'corestore'
import type { Extension, ReactiveNetworker } from '../lib'
import { CloseCodes } from '../lib/remote/client'
import { ENDPOINT, startDashboard, type Dashboard } from '../examples/dashboard/server'
import { CHROMIUM_ARGS, chromiumPath } from './chromium'
import { createHarness, Harness, randomTopic, rawClient, sleep, until, waitForPeers } from './kit'

const SCREENSHOT = path.join(__dirname, '..', 'docs', 'img', 'dashboard.png')
const NAMES = ['host', 'alice', 'bob', 'carol']

interface Chat {
  from: string
  text: string
}

let h: Harness
let stores: Corestore[]
let networkers: ReactiveNetworker[]
let chats: Extension<Chat>[]
let topic: Buffer
let dashboard: Dashboard
let userDataDir: string
let browser: BrowserContext
const pages: Page[] = []

/** A new tab, closed after the test whatever happens. */
async function openPage(): Promise<Page> {
  const page = await browser.newPage()
  page.on('pageerror', (err) => console.log('PAGEERROR', err.message))
  pages.push(page)
  return page
}

/** What `until` waited for, with the dashboard's counts when it gave up. */
function counted(what: string): () => string {
  return () => `${what} (clients ${dashboard.clients}, subscriptions ${dashboard.subscriptions})`
}

const peerRows = (page: Page) => page.locator('#peers tbody tr')

/** Waits until exactly `count` elements match `selector` in the page. */
async function waitForCount(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(`document.querySelectorAll(${JSON.stringify(selector)}).length === ${count}`, null, {
    timeout: 10_000
  })
}

beforeAll(async () => {
  const executablePath = await chromiumPath()
  h = await createHarness()
  stores = NAMES.map(() => h.store())
  networkers = stores.map((store) => h.networker(store))
  chats = networkers.map((n) => n.registerExtension<Chat>('chat', { encoding: 'json' }))
  topic = randomTopic()
  const names = new Map<string, string>()
  await Promise.all(networkers.map((n) => n.listen()))
  networkers.forEach((n, i) => names.set((n.publicKey as Buffer).toString('hex'), NAMES[i]))

  dashboard = await startDashboard(networkers[0], { chat: chats[0] as Extension<unknown>, names, store: stores[0] })
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-chromium-'))
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 560 },
    // uPlot formats numbers with Intl for navigator.language: a POSIX locale of the environment
    // (e.g. en-US@posix) is no language tag Intl takes.
    locale: 'en-US',
    args: [...CHROMIUM_ARGS]
  })
})

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.close()))
})

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
  await h?.cleanup()
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true })
})

test('the page shows peers appear and vanish, configures a topic until it is flushed', async () => {
  const page = await openPage()
  await page.goto(dashboard.url)
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 })
  expect(await peerRows(page).count()).toBe(0)

  // Three peers join the first networker's topic: three rows appear.
  await Promise.all(networkers.map((n) => n.configure(topic, { announce: true, lookup: true })))
  await Promise.all(networkers.map((n) => waitForPeers(n, 3)))
  await waitForCount(page, '#peers tbody tr', 3)
  const shown = await Promise.all((await peerRows(page).all()).map((row) => row.getAttribute('data-key')))
  const expected = networkers.slice(1).map((n) => (n.publicKey as Buffer).toString('hex'))
  expect([...shown].sort()).toEqual([...expected].sort())

  // Chat lines reach the message log.
  for (const [i, chat] of chats.entries()) {
    if (i > 0) chat.broadcast({ from: NAMES[i], text: `hello from ${NAMES[i]}` })
  }
  await waitForCount(page, '#messages li', 3)
  await expect(page.locator('#messages li .text').allTextContents()).resolves.toEqual(
    expect.arrayContaining([expect.stringContaining('hello from alice')])
  )

  // One networker closes: its row vanishes (its connections close at once, then the 500 ms grace).
  const leaving = (networkers[3].publicKey as Buffer).toString('hex')
  const closedAt = Date.now()
  await networkers[3].close()
  await page.locator(`#peers tbody tr[data-key="${leaving}"]`).waitFor({ state: 'detached', timeout: 10_000 })
  expect(Date.now() - closedAt).toBeGreaterThanOrEqual(400)
  expect(await peerRows(page).count()).toBe(2)

  // Configure a new topic from the form: it appears, joined, and turns flushed.
  const fresh = randomBytes(32).toString('hex')
  await page.fill('#topic', fresh)
  await page.click('#configure button[type="submit"]')
  await page.locator(`#topics li[data-key="${fresh}"]`).waitFor({ timeout: 10_000 })
  await page.locator(`#topics li[data-key="${fresh}"][data-flushed="true"]`).waitFor({ timeout: 15_000 })
  expect(networkers[0].flushed(fresh)).toBe(true)
  expect(networkers[0].status(fresh)).toMatchObject({ announce: true, lookup: true })
  await expect(page.locator('#configure-result').textContent()).resolves.toContain('configured')

  const png = await page.screenshot({ fullPage: true })
  expect(png.subarray(1, 4).toString()).toBe('PNG')
  await page.close()
})

/** The fill widths (`style.width`) of a core's progress bar. */
const barWidth = (page: Page, dk: string): Promise<string> =>
  page.evaluate(`document.querySelector('#cores li[data-key="${dk}"] .fill').style.width`) as Promise<string>

/** What the page's uPlot chart holds: its x values and each series' label and largest value. */
interface ChartView {
  readonly xs: number
  readonly series: ReadonlyArray<{ readonly label: string; readonly max: number }>
  readonly canvas: boolean
}
const chartOf = (page: Page): Promise<ChartView | null> =>
  page.evaluate(`(() => {
    const chart = window.__dashboard && window.__dashboard.chart
    if (!chart) return null
    return {
      xs: chart.data[0].length,
      series: chart.series.slice(1).map((serie, i) => ({
        label: String(serie.label),
        max: Math.max(0, ...chart.data[i + 1].map((v) => v ?? 0))
      })),
      canvas: chart.root.querySelector('canvas') !== null
    }
  })()`) as Promise<ChartView | null>

test('the chart draws each peer’s throughput and a core’s bar grows to 100% as it downloads (metrics$ through uPlot)', async () => {
  // alice has a core of 64 blocks of 64 KiB; the host opens it and fetches it a quarter at a time.
  const BLOCKS = 64
  const SIZE = 64 * 1024
  const source = stores[1].get({ name: 'film' })
  await source.ready()
  const blocks: Buffer[] = []
  for (let i = 0; i < BLOCKS; i++) blocks.push(randomBytes(SIZE))
  await source.append(blocks)
  const clone = stores[0].get({ key: source.key as Buffer })
  await clone.ready()
  const dk = (clone.discoveryKey as Buffer).toString('hex')
  const alice = (networkers[1].publicKey as Buffer).toString('hex')
  await networkers[1].configure(source.discoveryKey as Buffer, { announce: true, lookup: false })
  await networkers[0].configure(source.discoveryKey as Buffer, { announce: false, lookup: true })
  await until(() => networkers[0].peers.some((p) => (p.remotePublicKey as Buffer).toString('hex') === alice), 10_000, 'alice connected')

  const page = await openPage()
  await page.goto(`${dashboard.url}#interval=200`)
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 })
  await page.locator(`#cores li[data-key="${dk}"]`).waitFor({ timeout: 10_000 })
  await page.waitForFunction('window.__dashboard && window.__dashboard.chart != null', null, { timeout: 10_000 })
  const before = (await chartOf(page)) as ChartView
  const widths = [await barWidth(page, dk)]

  for (let quarter = 1; quarter <= 4; quarter++) {
    await clone.download({ start: 0, end: (BLOCKS / 4) * quarter }).done()
    const expected = `${25 * quarter}%`
    await page.waitForFunction(`document.querySelector('#cores li[data-key="${dk}"] .fill')?.style.width === '${expected}'`, null, {
      timeout: 10_000
    })
    widths.push(await barWidth(page, dk))
  }
  await page.locator(`#cores li[data-key="${dk}"][data-synced="true"]`).waitFor({ timeout: 10_000 })
  // Two more samples after the download, so its bytes are on the chart.
  const drawn = (await page.evaluate('window.__dashboard.samples')) as number
  await page.waitForFunction(`window.__dashboard.samples >= ${drawn + 2}`, null, { timeout: 10_000 })
  const after = (await chartOf(page)) as ChartView
  const aliceIn = after.series.find((serie) => serie.label === 'alice in')
  console.log(JSON.stringify({ widths, xsBefore: before.xs, xsAfter: after.xs, aliceInPeak: aliceIn?.max, series: after.series.map((serie) => serie.label) }))

  expect(widths[0]).toBe('0%')
  expect(widths).toEqual(['0%', '25%', '50%', '75%', '100%'])
  expect(after.canvas).toBe(true)
  expect(after.xs).toBeGreaterThan(before.xs)
  expect(aliceIn).toBeDefined()
  // The host received the 4 MiB from alice: her "in" series shows it (bytes per second).
  expect(aliceIn!.max).toBeGreaterThan(SIZE)
  await expect(page.locator(`#cores li[data-key="${dk}"] .detail`).textContent()).resolves.toContain('100%')
  expect(alice).toHaveLength(64)

  // The picture for the docs (written on request only).
  const png = await page.screenshot({ fullPage: true })
  expect(png.subarray(1, 4).toString()).toBe('PNG')
  if (process.env.UPDATE_SCREENSHOT === '1') {
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true })
    fs.writeFileSync(SCREENSHOT, png)
  }
  await page.close()
})

test('the server releases every subscription when the browser leaves', async () => {
  await until(() => dashboard.clients === 0 && dashboard.subscriptions === 0, 5000, counted('an idle dashboard'))
  const page = await openPage()
  await page.goto(dashboard.url)
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 })
  // peers$, topics$, chat messages$, errors$, metrics$: one server subscription each (messages$
  // once the server said which extension it publishes).
  await until(() => dashboard.clients === 1 && dashboard.subscriptions === 5, 5000, counted('one client'))

  const second = await openPage()
  await second.goto(dashboard.url)
  await until(() => dashboard.clients === 2 && dashboard.subscriptions === 10, 5000, counted('two clients'))

  await page.close()
  await until(() => dashboard.clients === 1 && dashboard.subscriptions === 5, 5000, counted('one client left'))
  // Navigating away is leaving too.
  await second.goto('about:blank')
  await until(() => dashboard.clients === 0 && dashboard.subscriptions === 0, 5000, counted('no client left'))
  await second.close()
})

test('only our own origin and Host are served: a foreign page cannot open the networker endpoint', async () => {
  const url = new URL(dashboard.url)
  const rebound = await new Promise<number>((resolve, reject) => {
    http
      .get({ host: url.hostname, port: url.port, path: '/', headers: { host: `evil.example:${url.port}` } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      .on('error', reject)
  })
  expect(rebound).toBe(403)

  const missing = await fetch(new URL('/../package.json', dashboard.url))
  expect(missing.status).toBe(404)
  await missing.body?.cancel()

  const endpoint = `ws://${url.host}${ENDPOINT}`
  const foreign = rawClient(endpoint, { origin: 'http://evil.example' })
  expect((await foreign.closed).code).toBe(CloseCodes.FORBIDDEN_ORIGIN)
  expect(foreign.received).toEqual([])
  const own = rawClient(endpoint, { origin: `http://${url.host}` })
  await own.opened
  own.ws.close()
})

test('when the networker closes, the page shows the end and the server releases everything', async () => {
  const page = await openPage()
  await page.goto(dashboard.url)
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 })
  await until(() => dashboard.clients === 1 && dashboard.subscriptions === 5, 5000, counted('one client'))

  await networkers[0].close()
  await page.locator('#status[data-state="ended"]').waitFor({ timeout: 10_000 })
  await until(() => dashboard.clients === 0 && dashboard.subscriptions === 0, 5000, counted('no client left'))
  // The page does not reconnect to a networker that is gone.
  await sleep(2500)
  expect(dashboard.clients).toBe(0)
})
