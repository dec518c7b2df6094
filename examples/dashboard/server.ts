/**
 * A live dashboard for one networker: a small `node:http` server on loopback that serves a page
 * and publishes the networker's streams on the same port with `serveNetworker`
 * (`@basestore/networker/remote/server`). The page (examples/dashboard/public/) is an ES module
 * that loads the remote client's ESM build (`connectNetworker`, bundled with RxJS by esbuild)
 * and renders `peers$`, `topics$`, extension messages and `errors$`, and from `metrics$` a live
 * throughput chart per peer (uPlot, served from node_modules: no CDN) and a progress bar per core.
 *
 * ```ts
 * import { startDashboard } from './examples/dashboard/server'
 *
 * const chat = networker.registerExtension('chat', { encoding: 'json' })
 * const dashboard = await startDashboard(networker, { chat })
 * console.log('dashboard on', dashboard.url)
 * // …
 * await dashboard.close()
 * ```
 *
 * Every browser gets its own subscriptions to the networker's streams (only those its page
 * subscribes); they are released when the browser leaves and on `close()`.
 */
import fs from 'fs'
import http from 'http'
import type { AddressInfo } from 'net'
import path from 'path'
import { build } from 'esbuild'
import type { Extension } from '../../lib'
import { serveNetworker, type RemoteServer, type ServedNetworker, type ServedStore } from '../../lib/remote/server'

/** What the dashboard needs of a networker: its streams, `configure`, and its key. */
export type DashboardNetworker = ServedNetworker

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number
  /** Interface to bind; default `127.0.0.1`. Keep it on loopback: the page can configure topics. */
  host?: string
  /** An extension whose received messages appear in the message log (e.g. the app's `chat`). */
  chat?: Extension<unknown>
  /** Required off loopback; the page then asks for it. */
  token?: string
  /** Display names of known peers by hex key (shown beside the key), served as /names.json. */
  names?: ReadonlyMap<string, string>
  /** The networker's Corestore: lets the page's client ask `progress$(discoveryKey)` of an open core. */
  store?: ServedStore
}

/** A running dashboard. */
export interface Dashboard {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  /** Browsers connected to the networker's endpoint right now. */
  readonly clients: number
  /** Live subscriptions to the networker's streams held for browsers: 0 once every browser left. */
  readonly subscriptions: number
  /** Ends every connection and subscription, and stops the server. Memoized. */
  close(): Promise<void>
}

const ROOT = path.join(__dirname, '..', '..')
const PUBLIC_DIR = path.join(__dirname, 'public')
/** uPlot 1.6's browser build, served as it is installed (a devDependency of this repository). */
const UPLOT_DIR = path.join(ROOT, 'node_modules', 'uplot', 'dist')
/** Where the page finds the networker's endpoint. */
export const ENDPOINT = '/networker'

/** The files the page is made of: a fixed list, so no path ever reaches the file system. */
const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: path.join(PUBLIC_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: path.join(PUBLIC_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: path.join(PUBLIC_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
  '/uplot.esm.js': { file: path.join(UPLOT_DIR, 'uPlot.esm.js'), type: 'text/javascript; charset=utf-8' },
  '/uplot.min.css': { file: path.join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' }
}

/**
 * The remote client's ESM build, for the page: the package's own ESM output when it was built
 * (dist/), else its source; bundled with RxJS into one browser module that also re-exports
 * RxJS for the page's pipelines (one copy of RxJS).
 */
let bundle: Promise<string> | null = null
export function clientBundle(): Promise<string> {
  bundle ??= (async () => {
    // From the source, so the page never runs a stale dist/: the same module the package's
    // `@basestore/networker/remote` entry is built from, bundled as ESM with RxJS.
    const entry = path.join(ROOT, 'lib', 'remote', 'client.ts')
    const result = await build({
      stdin: {
        contents: `export * from ${JSON.stringify(entry)}\nexport * from 'rxjs'\n`,
        resolveDir: ROOT,
        loader: 'ts'
      },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      write: false,
      logLevel: 'silent'
    })
    return result.outputFiles[0].text
  })()
  bundle.catch(() => (bundle = null))
  return bundle
}

/**
 * Starts the dashboard of `networker` on `host:port` (default `127.0.0.1`, a free port) and
 * resolves once it listens.
 */
export async function startDashboard(networker: DashboardNetworker, opts: DashboardOptions = {}): Promise<Dashboard> {
  const { port = 0, host = '127.0.0.1', chat, token, store, names = new Map<string, string>() } = opts
  const namesJson = JSON.stringify(Object.fromEntries(names))
  const script = await clientBundle()

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://dashboard.invalid')
    // Only answer requests addressed to us (defeats DNS rebinding of a loopback server).
    if (!isAllowedHost(request.headers.host, host, (server.address() as AddressInfo).port)) {
      sendText(response, 403, 'unexpected Host header')
      return
    }
    if (request.method === 'GET' && url.pathname === '/networker-remote.js') {
      response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
      response.end(script)
      return
    }
    if (request.method === 'GET' && url.pathname === '/names.json') {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
      response.end(namesJson)
      return
    }
    const file = STATIC_FILES[url.pathname]
    if (request.method === 'GET' && file !== undefined) {
      fs.readFile(file.file, (err, content) => {
        if (err) {
          sendText(response, 500, `cannot read ${url.pathname}`)
          return
        }
        response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' })
        response.end(content)
      })
      return
    }
    sendText(response, 404, 'not found')
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
  let remote: RemoteServer
  try {
    remote = await serveNetworker(networker, {
      server,
      path: ENDPOINT,
      token,
      extensions: chat === undefined ? [] : [chat],
      commands: true,
      store
    })
  } catch (err) {
    server.close()
    throw err
  }
  const address = server.address() as AddressInfo
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`

  let closing: Promise<void> | null = null
  return {
    url,
    get clients() {
      return remote.clients
    },
    get subscriptions() {
      return remote.subscriptions
    },
    close() {
      closing ??= remote.close().then(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve())
            server.closeAllConnections()
          })
      )
      return closing
    }
  }
}

function sendText(response: http.ServerResponse, status: number, body: string): void {
  if (response.headersSent) return
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
  response.end(body)
}

function isAllowedHost(header: string | undefined, host: string, port: number): boolean {
  if (header === undefined) return false
  const allowed = new Set([`${host}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`])
  return allowed.has(header.toLowerCase())
}
