/**
 * The live dashboard (examples/dashboard/) end to end, in real headless Chromium driven by
 * playwright-core: four networkers on a loopback testnet, the dashboard on the first.
 *
 * Chromium comes from `chromiumPath()` (CHROMIUM_PATH, else /usr/bin/chromium, else the binary
 * inside the `@sparticuz/chromium` devDependency); playwright never downloads a browser.
 *
 * The README's screenshot comes from here: `UPDATE_SCREENSHOT=1 npx jest test/dashboard.test.ts`
 * writes docs/img/dashboard.png (plain runs leave the working tree alone).
 */
import b4a from 'b4a'
import fs from 'fs'
import http from 'http'
import os from 'os'
import path from 'path'
import { randomBytes } from 'crypto'
import Corestore from 'corestore'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { Extension, ReactiveNetworker } from '../lib'
import { startDashboard, type Dashboard } from '../examples/dashboard/server'
import { CHROMIUM_ARGS, chromiumPath } from './chromium'
import { createHarness, Harness, sleep, waitForPeers } from './helpers'

const SCREENSHOT = path.join(__dirname, '..', 'docs', 'img', 'dashboard.png')
const NAMES = ['host', 'alice', 'bob', 'carol']
const BLOCKS = 256

interface Chat {
  from: string
  text: string
}

let h: Harness
let networkers: ReactiveNetworker[]
let chats: Extension<Chat>[]
let topic: Buffer
let stores: Corestore[]
let core: Corestore.Hypercore
let dashboard: Dashboard
let userDataDir: string
let browser: BrowserContext
const pages: Page[] = []

/** A new tab, closed after the test whatever happens. */
async function openPage(): Promise<Page> {
  const page = await browser.newPage()
  pages.push(page)
  return page
}

/** Polls `check` every 50 ms until it holds, or fails after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

const peerRows = (page: Page) => page.locator('#peers tbody tr')

/** Waits until exactly `count` elements match `selector` in the page. */
async function waitForCount(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(`document.querySelectorAll(${JSON.stringify(selector)}).length === ${count}`, null, {
    timeout: 10_000
  })
}

beforeAll(async () => {
  h = await createHarness()
  stores = NAMES.map(() => h.store())
  networkers = stores.map((store) => h.networker(store))
  chats = networkers.map((n) => n.registerExtension<Chat>('chat', { encoding: 'json' }))
  // The host shares a core of 1 MiB: the peers' traffic counters show its replication.
  core = stores[0].get({ name: 'dashboard-core' })
  await core.ready()
  await core.append(Array.from({ length: BLOCKS }, (_, i) => Buffer.alloc(4096, i)))
  topic = core.discoveryKey as Buffer
  const names = new Map<string, string>()
  await Promise.all(networkers.map((n) => n.listen()))
  networkers.forEach((n, i) => names.set((n.publicKey as Buffer).toString('hex'), NAMES[i]))

  dashboard = await startDashboard(networkers[0], {
    chat: chats[0] as Extension<unknown>,
    peerName: (peer) => names.get(b4a.toString(peer.remotePublicKey, 'hex'))
  })
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-chromium-'))
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: await chromiumPath(),
    headless: true,
    viewport: { width: 1280, height: 560 },
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

  // (Strings run in the page: this file is type-checked without the DOM library.)
  // Every peer downloads the host's core: the traffic counters grow (bytes out > 1 MiB).
  await Promise.all(
    stores.slice(1).map(async (store) => {
      const clone = store.get({ key: core.key as Buffer })
      await clone.ready()
      await clone.download({ start: 0, end: BLOCKS }).done()
    })
  )
  // Peers also trade blocks among themselves, so only the sum is known: at least the core once.
  await page.waitForFunction(
    `[...document.querySelectorAll('#peers tbody tr')].reduce((sum, row) => sum + Number(row.dataset.bytesOut), 0) > ${BLOCKS * 4096}`,
    null,
    { timeout: 10_000 }
  )

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

  // Let one more traffic sample land, then take the picture (kept for the README on request).
  await sleep(1100)
  const png = await page.screenshot({ fullPage: true })
  expect(png.subarray(1, 4).toString()).toBe('PNG')
  if (process.env.UPDATE_SCREENSHOT === '1') {
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true })
    fs.writeFileSync(SCREENSHOT, png)
  }
  await page.close()
})

test('the server releases every subscription when the browser leaves', async () => {
  await until(() => dashboard.clients === 0 && dashboard.subscriptions === 0, 5000, 'an idle dashboard')
  const page = await openPage()
  await page.goto(dashboard.url)
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 })
  await until(() => dashboard.clients === 1, 5000, 'one client')
  // peers$, topics$, chat messages$, errors$.
  expect(dashboard.subscriptions).toBe(4)

  const second = await openPage()
  await second.goto(dashboard.url)
  await until(() => dashboard.clients === 2 && dashboard.subscriptions === 8, 5000, 'two clients')

  await page.close()
  await until(() => dashboard.clients === 1 && dashboard.subscriptions === 4, 5000, 'one client left')
  // Navigating away is leaving too.
  await second.goto('about:blank')
  await until(() => dashboard.clients === 0 && dashboard.subscriptions === 0, 5000, 'no client left')
  await second.close()
})

test('the topic form only takes a JSON body with a 64-hex topic, from our own origin', async () => {
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(new URL('/topics', dashboard.url), { method: 'POST', headers, body })

  const bad = await post(JSON.stringify({ topic: 'abc' }))
  expect(bad.status).toBe(400)
  expect(await bad.json()).toEqual({ error: 'topic must be 64 hex characters' })

  const form = await post(`topic=${'ab'.repeat(32)}`, { 'content-type': 'application/x-www-form-urlencoded' })
  expect(form.status).toBe(415)
  await form.body?.cancel()

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
})

test('when the networker closes, the page shows the end and the server releases everything', async () => {
  const page = await openPage()
  await page.goto(dashboard.url)
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 })
  await until(() => dashboard.clients === 1 && dashboard.subscriptions === 4, 5000, 'one client')

  await networkers[0].close()
  await page.locator('#status[data-state="ended"]').waitFor({ timeout: 10_000 })
  await until(() => dashboard.clients === 0 && dashboard.subscriptions === 0, 5000, 'no client left')
  // The page does not reconnect to a networker that is gone.
  await sleep(2500)
  expect(dashboard.clients).toBe(0)
})
