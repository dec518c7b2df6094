import fs from 'fs'
import path from 'path'
import Corestore from 'corestore'
import { Networker } from '../../lib/facade'
import { ReactiveNetworker } from '../../lib/reactive-networker'
import type { ErrorCode } from '../../lib/errors'
import type { Peer } from '../../lib/peer'
import { createHarness, Harness } from '../kit'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(async () => {
  await h.cleanup()
})

/** Calls that bypass the types on purpose, as untyped JavaScript callers would. */
type Loose = (...args: unknown[]) => unknown
const loose = <T extends object>(target: T, method: keyof T): Loose =>
  (target[method] as unknown as Loose).bind(target)

interface Case {
  /** The call, as it reads in docs/ERRORS.md. */
  readonly call: string
  readonly code: ErrorCode
  readonly run: (ctx: Context) => unknown
}

interface Context {
  store: Corestore
  open: ReactiveNetworker
  closed: ReactiveNetworker
  facade: Networker
  closedExt: ReturnType<ReactiveNetworker['registerExtension']>
}

const KEY = 'ab'.repeat(32)
const fakePeer = {
  remotePublicKey: Buffer.alloc(32, 9),
  remoteAddress: '127.0.0.1:1',
  type: 'udx'
} as unknown as Peer

/** The table published in docs/ERRORS.md. */
const CASES: readonly Case[] = [
  { call: 'new ReactiveNetworker(null)', code: 'ERR_INVALID_OPTION', run: () => new (ReactiveNetworker as unknown as new (...a: unknown[]) => unknown)(null) },
  { call: 'new ReactiveNetworker(store, 5)', code: 'ERR_INVALID_OPTION', run: ({ store }) => new (ReactiveNetworker as unknown as new (...a: unknown[]) => unknown)(store, 5) },
  { call: "new ReactiveNetworker(store, { timeout: 'x' })", code: 'ERR_INVALID_OPTION', run: ({ store }) => new (ReactiveNetworker as unknown as new (...a: unknown[]) => unknown)(store, { timeout: 'x' }) },
  { call: 'new ReactiveNetworker(store, { timeout: -1 })', code: 'ERR_INVALID_OPTION', run: ({ store }) => new ReactiveNetworker(store, { timeout: -1 }) },
  { call: 'new ReactiveNetworker(store, { maxMessageSize: 16 MiB })', code: 'ERR_INVALID_OPTION', run: ({ store }) => new ReactiveNetworker(store, { maxMessageSize: 16 * 1024 * 1024 }) },
  { call: 'new ReactiveNetworker(store, { maxMessageSize: NaN })', code: 'ERR_INVALID_OPTION', run: ({ store }) => new ReactiveNetworker(store, { maxMessageSize: NaN }) },
  { call: 'new ReactiveNetworker(store, { keyPair: { publicKey: 31 bytes } })', code: 'ERR_INVALID_OPTION', run: ({ store }) => new ReactiveNetworker(store, { keyPair: { publicKey: Buffer.alloc(31), secretKey: Buffer.alloc(64) } }) },
  { call: "new ReactiveNetworker(store, { allowlist: ['nope'] })", code: 'ERR_INVALID_OPTION', run: ({ store }) => new ReactiveNetworker(store, { allowlist: ['nope'] }) },
  { call: 'new ReactiveNetworker(store, { onauthenticate: 5 })', code: 'ERR_INVALID_OPTION', run: ({ store }) => new (ReactiveNetworker as unknown as new (...a: unknown[]) => unknown)(store, { onauthenticate: 5 }) },
  { call: "configure('abc')", code: 'ERR_INVALID_KEY', run: ({ open }) => open.configure('abc') },
  { call: 'configure(31-byte Buffer)', code: 'ERR_INVALID_KEY', run: ({ open }) => open.configure(Buffer.alloc(31)) },
  { call: 'configure(33-byte Uint8Array)', code: 'ERR_INVALID_KEY', run: ({ open }) => open.configure(new Uint8Array(33)) },
  { call: "configure('zz' × 32)", code: 'ERR_INVALID_KEY', run: ({ open }) => open.configure('zz'.repeat(32)) },
  { call: 'configure(123)', code: 'ERR_INVALID_KEY', run: ({ open }) => loose(open, 'configure')(123) },
  { call: 'configure(null)', code: 'ERR_INVALID_KEY', run: ({ open }) => loose(open, 'configure')(null) },
  { call: 'configure(key, 5)', code: 'ERR_INVALID_OPTION', run: ({ open }) => loose(open, 'configure')(KEY, 5) },
  { call: "configure(key, { announce: 'yes' })", code: 'ERR_INVALID_OPTION', run: ({ open }) => loose(open, 'configure')(KEY, { announce: 'yes' }) },
  { call: 'configure(key, { flush: 1 })', code: 'ERR_INVALID_OPTION', run: ({ open }) => loose(open, 'configure')(KEY, { flush: 1 }) },
  { call: 'configure(key) after close()', code: 'ERR_CLOSED', run: ({ closed }) => closed.configure(KEY) },
  { call: 'listen() after close()', code: 'ERR_CLOSED', run: ({ closed }) => closed.listen() },
  { call: "topic$('abc')", code: 'ERR_INVALID_KEY', run: ({ open }) => open.topic$('abc') },
  { call: "joined('abc')", code: 'ERR_INVALID_KEY', run: ({ open }) => open.joined('abc') },
  { call: 'flushed(Buffer.alloc(0))', code: 'ERR_INVALID_KEY', run: ({ open }) => open.flushed(Buffer.alloc(0)) },
  { call: 'status(undefined)', code: 'ERR_INVALID_KEY', run: ({ open }) => loose(open, 'status')(undefined) },
  { call: 'metrics$({ interval: 99 })', code: 'ERR_INVALID_OPTION', run: ({ open }) => open.metrics$({ interval: 99 }) },
  { call: 'metrics$({ interval: Infinity })', code: 'ERR_INVALID_OPTION', run: ({ open }) => open.metrics$({ interval: Infinity }) },
  { call: 'metrics$(5)', code: 'ERR_INVALID_OPTION', run: ({ open }) => loose(open, 'metrics$')(5) },
  { call: 'progress$({})', code: 'ERR_INVALID_OPTION', run: ({ open }) => loose(open, 'progress$')({}) },
  { call: "registerExtension('')", code: 'ERR_INVALID_NAME', run: ({ open }) => open.registerExtension('') },
  { call: 'registerExtension(5)', code: 'ERR_INVALID_NAME', run: ({ open }) => loose(open, 'registerExtension')(5) },
  { call: "registerExtension('x' × 1,025)", code: 'ERR_INVALID_NAME', run: ({ open }) => open.registerExtension('x'.repeat(1025)) },
  { call: "registerExtension('\\uD800') (a lone surrogate)", code: 'ERR_INVALID_NAME', run: ({ open }) => open.registerExtension('\uD800') },
  { call: "registerExtension('x', { encoding: 'nope' })", code: 'ERR_INVALID_ENCODING', run: ({ open }) => loose(open, 'registerExtension')('x', { encoding: 'nope' }) },
  { call: "registerExtension('x', { encoding: {} })", code: 'ERR_INVALID_ENCODING', run: ({ open }) => loose(open, 'registerExtension')('x', { encoding: {} }) },
  { call: "registerExtension('x', 5)", code: 'ERR_INVALID_OPTION', run: ({ open }) => loose(open, 'registerExtension')('x', 5) },
  { call: "registerExtension('x') after close()", code: 'ERR_CLOSED', run: ({ closed }) => closed.registerExtension('x') },
  { call: 'ext.send(msg) without a peer', code: 'ERR_INVALID_PEER', run: ({ open }) => loose(open.registerExtension('a'), 'send')(Buffer.from('m')) },
  { call: "ext.send(msg, { remotePublicKey: 'x' })", code: 'ERR_INVALID_PEER', run: ({ open }) => loose(open.registerExtension('a'), 'send')(Buffer.from('m'), { remotePublicKey: 'x' }) },
  { call: 'ext.send(msg, peer that is not connected)', code: 'ERR_UNKNOWN_PEER', run: ({ open }) => open.registerExtension('a').send(Buffer.from('m'), fakePeer) },
  { call: 'ext.broadcast(4 MiB + 1 byte)', code: 'ERR_MESSAGE_TOO_LARGE', run: ({ open }) => open.registerExtension('a').broadcast(Buffer.alloc(4 * 1024 * 1024 + 1)) },
  { call: "json ext.send(1n, peer)", code: 'ERR_ENCODE', run: ({ open }) => open.registerExtension<bigint>('j', { encoding: 'json' }).send(1n, fakePeer) },
  { call: 'utf-8 ext.broadcast(5)', code: 'ERR_ENCODE', run: ({ open }) => loose(open.registerExtension('u', { encoding: 'utf-8' }), 'broadcast')(5) },
  { call: 'ext.send(msg, peer) after ext.destroy()', code: 'ERR_EXTENSION_DESTROYED', run: ({ open }) => { const ext = open.registerExtension('d'); ext.destroy(); return ext.send(Buffer.from('m'), fakePeer) } },
  { call: 'ext.broadcast(msg) after close()', code: 'ERR_CLOSED', run: ({ closedExt }) => closedExt.broadcast(Buffer.from('m')) },
  { call: 'new Networker(null)', code: 'ERR_INVALID_OPTION', run: () => new (Networker as unknown as new (...a: unknown[]) => unknown)(null) },
  { call: 'networker.registerExtension(5)', code: 'ERR_INVALID_NAME', run: ({ facade }) => loose(facade, 'registerExtension')(5) },
  { call: "networker.registerExtension('x', 5)", code: 'ERR_INVALID_OPTION', run: ({ facade }) => loose(facade, 'registerExtension')('x', 5) },
  { call: "networker.registerExtension({ name: '' })", code: 'ERR_INVALID_NAME', run: ({ facade }) => facade.registerExtension({ name: '' }) },
  { call: "networker.configure('abc')", code: 'ERR_INVALID_KEY', run: ({ facade }) => facade.configure('abc') },
  { call: 'new Networker(store, { keyPair: X25519 (32-byte secretKey) })', code: 'ERR_UNSUPPORTED', run: ({ store }) => new Networker(store, { keyPair: { publicKey: Buffer.alloc(32), secretKey: Buffer.alloc(32) } }) },
  { call: 'new Networker(store, { swarm })', code: 'ERR_UNSUPPORTED', run: ({ store }) => new Networker(store, { swarm: {} }) },
  { call: "networker.configure('abc', {}, cb)", code: 'ERR_INVALID_KEY', run: ({ facade }) => new Promise((resolve, reject) => facade.configure('abc', {}, (err) => (err ? reject(err) : resolve(undefined)))) }
]

async function outcome(run: () => unknown): Promise<unknown> {
  try {
    await run()
  } catch (err) {
    return err
  }
  return null
}

let ctx: Context
beforeAll(async () => {
  const store = h.store()
  const closed = h.networker(h.store())
  const closedExt = closed.registerExtension('late')
  await closed.close()
  const facade = new Networker(h.store(), h.net.swarmOptions())
  h.onCleanup(() => facade.close())
  ctx = { store, open: h.networker(h.store()), closed, facade, closedExt }
})

describe.each(CASES.map((c) => [c.call, c] as const))('%s', (_call, c) => {
  test(`fails with ${c.code}`, async () => {
    const err = await outcome(() => c.run(ctx))
    expect(err).toMatchObject({ name: 'NetworkerError', code: c.code })
  })
})

test('bad input before any I/O: the swarm of a networker that only got bad calls was never created', () => {
  expect(ctx.open.publicKey).toBeNull()
})

test('concurrent close() calls share one promise and both resolve', async () => {
  const networker = h.networker(h.store())
  await networker.listen()
  const [p1, p2] = [networker.close(), networker.close()]
  expect(p1).toBe(p2)
  await expect(Promise.all([p1, p2])).resolves.toEqual([undefined, undefined])
})

test('docs/ERRORS.md publishes every row of this table', () => {
  const doc = fs.readFileSync(path.join(__dirname, '../../docs/ERRORS.md'), 'utf-8')
  for (const c of CASES) expect(doc).toContain(`| \`${c.call}\` | \`${c.code}\` |`)
})
