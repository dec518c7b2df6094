/**
 * The HTTP server under `serveNetworker`'s WebSocket endpoint, when the server makes its own:
 * listen, answer plain requests, close, and the URL clients dial. Node only.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'http'
import type { Server as HttpsServer } from 'https'
import type { AddressInfo } from 'net'

/** A plain HTTP request (not an upgrade) gets 426: this endpoint speaks WebSocket only. */
export function answerPlainRequest(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket' })
  response.end('WebSocket only\n')
}

/** Resolves once `server` listens on `host:port`; rejects if it cannot (the port is taken…). */
export function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
}

/** Stops listening and drops every open connection; resolves once the server is closed. */
export function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/** The host part of the URL a client dials: a wildcard bind becomes the loopback address. */
export function hostForUrl(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1'
  if (address.address === '::') return '[::1]'
  return address.family === 'IPv6' ? `[${address.address}]` : address.address
}
