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
})
