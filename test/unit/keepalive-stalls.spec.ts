import type { Duplex } from 'stream'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import Protomux from 'protomux'
import c from 'compact-encoding'
import { armKeepAlive, KEEPALIVE_PROTOCOL } from '../../lib/keepalive'
import type { IdleWatchdog } from '../../lib/idle-watchdog'
import type { NetworkerError } from '../../lib/errors'
import { until } from '../kit'

/** Two secret streams piped together in memory: a real keep-alive channel between them. */
function pair(): [NoiseSecretStream, NoiseSecretStream] {
  const a = new NoiseSecretStream(true)
  const b = new NoiseSecretStream(false)
  const raw = (stream: NoiseSecretStream): Duplex => stream.rawStream as unknown as Duplex
  raw(a).pipe(raw(b)).pipe(raw(a))
  return [a, b]
}

/** A watchdog that records what the keep-alive channel asks of it. */
function recorder(): { dog: IdleWatchdog; stalls: number[]; report: (ms: number) => void } {
  const listeners: Array<(ms: number) => void> = []
  const stalls: number[] = []
  const fake = {
    watch: () => {},
    handshake: () => {},
    unwatch: () => {},
    onStall: (listener: (ms: number) => void) => {
      listeners.push(listener)
      return () => listeners.splice(listeners.indexOf(listener), 1)
    },
    remoteStalled: (_stream: unknown, ms: number) => stalls.push(ms)
  }
  return { dog: fake as unknown as IdleWatchdog, stalls, report: (ms) => listeners.forEach((l) => l(ms)) }
}

describe('keep-alive channel: stall reports', () => {
  const streams: NoiseSecretStream[] = []
  afterEach(() => streams.splice(0).forEach((s) => s.destroy()))

  it("tells the remote of this process's stalls, and passes the remote's on to the watchdog", async () => {
    const [a, b] = pair()
    streams.push(a, b)
    const ra = recorder()
    const rb = recorder()
    const errors: NetworkerError[] = []
    let alive = 0
    armKeepAlive(a, { timeout: 1000, handshakeTimeout: 2000, watchdog: ra.dog, onerror: (e) => errors.push(e), onalive: () => alive++ })
    armKeepAlive(b, { timeout: 1000, handshakeTimeout: 2000, watchdog: rb.dog, onerror: (e) => errors.push(e), onalive: () => alive++ })
    await until(() => alive === 2, 5000, 'both channels open')
    ra.report(640)
    await until(() => rb.stalls.length === 1, 5000, 'the report')
    expect(rb.stalls).toEqual([640])
    expect(ra.stalls).toEqual([])
    expect(errors).toEqual([])
  })

  it('bounds what a remote may claim at twice the timeout, and reports a malformed claim as ERR_DECODE', async () => {
    const [a, b] = pair()
    streams.push(a, b)
    const ra = recorder()
    const errors: NetworkerError[] = []
    let alive = false
    armKeepAlive(a, { timeout: 1000, handshakeTimeout: 2000, watchdog: ra.dog, onerror: (e) => errors.push(e), onalive: () => (alive = true) })
    // The other end is hand-written: it claims an endless stall, then sends a truncated number.
    const channel = Protomux.from(b).createChannel({
      protocol: KEEPALIVE_PROTOCOL,
      messages: [{ encoding: c.raw }, { encoding: c.raw }]
    })
    channel?.open()
    await until(() => alive, 5000, 'the channel open')
    channel?.messages[1].send(c.encode(c.uint, 2 ** 40))
    channel?.messages[1].send(Buffer.from([0xfd]))
    await until(() => ra.stalls.length === 1 && errors.length === 1, 5000, 'the claim and the error')
    expect(ra.stalls).toEqual([2000])
    expect(errors.map((e) => e.code)).toEqual(['ERR_DECODE'])
  })

  it('applies a keep-alive request only between 100 ms and the largest timer (2^31 − 1 ms), and only to speed keep-alives up', async () => {
    const [a, b] = pair()
    streams.push(a, b)
    const errors: NetworkerError[] = []
    let alive = false
    armKeepAlive(a, { timeout: 0, handshakeTimeout: 2000, watchdog: null, onerror: (e) => errors.push(e), onalive: () => (alive = true) })
    const channel = Protomux.from(b).createChannel({
      protocol: KEEPALIVE_PROTOCOL,
      messages: [{ encoding: c.raw }, { encoding: c.raw }]
    })
    channel?.open()
    await until(() => alive, 5000, 'the channel open')
    expect(a.keepAlive).toBe(0)
    const applied: number[] = []
    const setKeepAlive = a.setKeepAlive.bind(a)
    a.setKeepAlive = (ms: number) => {
      applied.push(ms)
      setKeepAlive(ms)
    }
    // Node turns a timer above 2^31 − 1 ms into 1 ms: a remote asking for 2^40 or 2^53 − 1 would get
    // a keep-alive every millisecond. Refused, as is one below 100 ms.
    for (const ms of [2 ** 40, 2 ** 53 - 1, 2 ** 31, 50]) channel?.messages[0].send(c.encode(c.uint, ms))
    channel?.messages[0].send(c.encode(c.uint, 2 ** 31 - 1))
    await until(() => a.keepAlive !== 0, 5000, 'the valid request')
    expect(a.keepAlive).toBe(2 ** 31 - 1)
    channel?.messages[0].send(c.encode(c.uint, 400))
    await until(() => a.keepAlive === 400, 5000, 'a faster one')
    expect(applied).toEqual([2 ** 31 - 1, 400])
    expect(errors).toEqual([])
  })

  it("passes on a remote's peer count only up to 65,535, tells ours when the channel opens and through the handle", async () => {
    const [a, b] = pair()
    streams.push(a, b)
    const told: number[] = []
    let alive = false
    const handle = armKeepAlive(a, {
      timeout: 0,
      handshakeTimeout: 2000,
      watchdog: null,
      onerror: () => {},
      onalive: () => (alive = true),
      peers: () => 3,
      onpeers: (count) => told.push(count)
    })
    const ours: number[] = []
    const channel = Protomux.from(b).createChannel({
      protocol: KEEPALIVE_PROTOCOL,
      messages: [{ encoding: c.raw }, { encoding: c.raw }, { encoding: c.raw, onmessage: (bytes: Uint8Array) => ours.push(c.decode(c.uint, bytes)) }]
    })
    channel?.open()
    await until(() => alive && ours.length === 1, 5000, 'the channel open and our count told')
    // A count a hostile remote might send: 2^53 − 1, just above the bound, then a real one.
    for (const count of [2 ** 53 - 1, 65536, 7]) channel?.messages[2].send(c.encode(c.uint, count))
    handle.tellPeers(4)
    await until(() => told.length === 1 && ours.length === 2, 5000, 'the valid count and our new one')
    expect(told).toEqual([7])
    expect(ours).toEqual([3, 4])
  })

  it("tells the remote it was admitted through the handle, and takes the remote's word whatever bytes come with it", async () => {
    const [a, b] = pair()
    streams.push(a, b)
    let alive = false
    let admittedByRemote = 0
    const errors: unknown[] = []
    const handle = armKeepAlive(a, {
      timeout: 0,
      handshakeTimeout: 2000,
      watchdog: null,
      onerror: (err) => errors.push(err),
      onalive: () => (alive = true),
      onadmitted: () => admittedByRemote++
    })
    let admittedByUs = 0
    const channel = Protomux.from(b).createChannel({
      protocol: KEEPALIVE_PROTOCOL,
      messages: [{ encoding: c.raw }, { encoding: c.raw }, { encoding: c.raw }, { encoding: c.raw, onmessage: () => admittedByUs++ }]
    })
    channel?.open()
    await until(() => alive, 5000, 'the channel open')
    handle.admitted()
    // What a hostile remote might send with it: nothing, a 2^53 − 1, a megabyte; and a thousand of them.
    channel?.messages[3].send(new Uint8Array(0))
    channel?.messages[3].send(c.encode(c.uint, 2 ** 53 - 1))
    channel?.messages[3].send(new Uint8Array(1024 * 1024))
    for (let i = 0; i < 1000; i++) channel?.messages[3].send(new Uint8Array(0))
    await until(() => admittedByUs === 1 && admittedByRemote === 1003, 5000, () => `admitted ${admittedByUs} / ${admittedByRemote}`)
    expect(errors).toEqual([])
  })
})
