import { Subscription } from 'rxjs'
import type { LocalNetwork } from '../lib/testnet'
import { Resources, ScenarioOptions, ScenarioResult, alternate, metric, networkFor, now, round } from './common'
import { OursPair, RawPair, drain, oursPair, rawPair } from './pairs'

const MESSAGE_BYTES = 64
const BATCH = 64

/**
 * Extension throughput: 64-byte messages one way for a fixed time, as fast as the connection
 * takes them (a sender waits for `'drain'` whenever a write reports a full buffer), against a raw
 * Protomux channel on a bare Hyperswarm connection. Two modes: one message per call
 * (`ext.send`, which the library coalesces per tick, vs an uncorked `message.send`; goal ≥ 2×)
 * and batches of 64 (`ext.sendMany` vs `mux.cork()` … `uncork()`; goal ≥ 0.9×). Ours honours
 * its credit window (`send()` false → `drained()`); raw waits for the stream's `'drain'`.
 * The rate is messages sent / time until the last one arrived; every message must arrive.
 */
export async function extThroughput(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const smoke = opts.smoke ?? false
  const rounds = smoke ? 1 : 6
  const durationMs = smoke ? 200 : 500
  const startedAt = new Date()
  const t0 = now()
  const res = new Resources()
  try {
    const net: LocalNetwork = await networkFor(opts, res)
    const ours = opts.only === 'raw' ? null : await oursPair(net, res)
    const raw = opts.only === 'ours' ? null : await rawPair(net, res)
    const sink: Sink = { count: 0, target: Infinity, lastAt: 0, resolve: null }
    const subscription = new Subscription()
    if (ours !== null) subscription.add(ours.extB.messages$.subscribe(() => receive(sink)))
    if (raw !== null) raw.b.onmessage = () => receive(sink)
    res.defer(() => subscription.unsubscribe())

    const totals = { sent: 0, received: 0 }
    const account = (run: Run): number => {
      totals.sent += run.sent
      totals.received += run.received
      return run.rate
    }
    const modes = {
      single: {
        ours: () => oursSingle(ours as OursPair, sink, durationMs).then(account),
        raw: () => rawSingle(raw as RawPair, sink, durationMs).then(account)
      },
      batched: {
        ours: () => oursBatched(ours as OursPair, sink, durationMs).then(account),
        raw: () => rawBatched(raw as RawPair, sink, durationMs).then(account)
      }
    }
    // Unmeasured warm-up of every path (JIT, buffers).
    if (!smoke) {
      for (const mode of [modes.single, modes.batched]) {
        await alternate(1, mode, opts.only)
      }
    }
    totals.sent = 0
    totals.received = 0
    const single = await alternate(rounds, modes.single, opts.only)
    const batched = await alternate(rounds, modes.batched, opts.only)
    const stats = ours === null ? null : { a: ours.extA.stats, b: ours.extB.stats }
    return {
      scenario: 'ext-throughput',
      title: `Extension throughput: ${MESSAGE_BYTES}-byte messages one way`,
      smoke,
      startedAt: startedAt.toISOString(),
      durationMs: now() - t0,
      params: { messageBytes: MESSAGE_BYTES, batch: BATCH, rounds, msPerRound: durationMs },
      metrics: [
        metric({
          key: 'single',
          label: 'one message per send() (coalesced per tick) vs raw uncorked sends',
          unit: 'msg/s',
          better: 'higher',
          ours: single.ours,
          raw: single.raw,
          target: { op: '>=', value: 2, on: 'ratio' }
        }),
        metric({
          key: 'batched',
          label: `batches of ${BATCH} (sendMany vs corked sends)`,
          unit: 'msg/s',
          better: 'higher',
          ours: batched.ours,
          raw: batched.raw,
          target: { op: '>=', value: 0.9, on: 'ratio' }
        })
      ],
      checks: {
        sent: totals.sent,
        received: totals.received,
        lost: totals.sent - totals.received,
        oursDropped: stats === null ? 'not run' : stats.a.dropped,
        oursStatsConsistent: stats === null ? 'not run' : stats.a.sent === stats.b.received
      },
      notes: [`${rounds} rounds of ${durationMs} ms per side and mode, after one unmeasured warm-up round.`]
    }
  } finally {
    await res.cleanup()
  }
}

/** The receiving end's counter; `target` is set once the sender knows how many it sent. */
interface Sink {
  count: number
  target: number
  lastAt: number
  resolve: (() => void) | null
}

function receive(sink: Sink): void {
  if (++sink.count === sink.target) {
    sink.lastAt = now()
    sink.resolve?.()
  }
}

interface Run {
  rate: number
  sent: number
  received: number
}

/** Waits until `sent` more messages than `base` arrived; the rate runs to the last arrival. */
async function finish(sink: Sink, base: number, sent: number, start: number): Promise<Run> {
  const target = base + sent
  if (sink.count < target) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`lost ${target - sink.count} of ${sent} messages`)), 30_000)
      sink.resolve = () => {
        clearTimeout(timer)
        resolve()
      }
      sink.target = target
    })
  } else {
    sink.lastAt = now()
  }
  const received = sink.count - base
  sink.target = Infinity
  sink.resolve = null
  return { rate: round(sent / ((sink.lastAt - start) / 1000), 0), sent, received }
}

const MESSAGE = Buffer.alloc(MESSAGE_BYTES, 0xab)
const BATCH_OF_MESSAGES: Buffer[] = Array.from({ length: BATCH }, () => MESSAGE)

async function oursSingle({ extA, peerB }: OursPair, sink: Sink, ms: number): Promise<Run> {
  const base = sink.count
  const start = now()
  const end = start + ms
  let sent = 0
  for (;;) {
    if ((sent & 255) === 0 && now() >= end) break
    sent++
    if (!extA.send(MESSAGE, peerB)) await extA.drained()
  }
  return finish(sink, base, sent, start)
}

async function rawSingle({ a }: RawPair, sink: Sink, ms: number): Promise<Run> {
  const base = sink.count
  const start = now()
  const end = start + ms
  let sent = 0
  for (;;) {
    if ((sent & 255) === 0 && now() >= end) break
    sent++
    if (!a.message.send(MESSAGE)) await drain(a.stream)
  }
  return finish(sink, base, sent, start)
}

async function oursBatched({ extA, peerB }: OursPair, sink: Sink, ms: number): Promise<Run> {
  const base = sink.count
  const start = now()
  const end = start + ms
  let sent = 0
  while (now() < end) {
    sent += BATCH
    if (!extA.sendMany(BATCH_OF_MESSAGES, peerB)) await extA.drained()
  }
  return finish(sink, base, sent, start)
}

async function rawBatched({ a }: RawPair, sink: Sink, ms: number): Promise<Run> {
  const base = sink.count
  const start = now()
  const end = start + ms
  let sent = 0
  while (now() < end) {
    sent += BATCH
    a.mux.cork()
    for (const message of BATCH_OF_MESSAGES) a.message.send(message)
    a.mux.uncork()
    if (!a.mux.drained) await drain(a.stream)
  }
  return finish(sink, base, sent, start)
}
