import { Subscription } from 'rxjs'
import { Resources, ScenarioOptions, ScenarioResult, metric, median, networkFor, now, percentile, round } from './common'
import { OursPair, RawPair, oursPair, rawPair } from './pairs'

const MESSAGE_BYTES = 64

/**
 * Extension latency: ping-pong round trips of a 64-byte message between two endpoints in this
 * process, one at a time (the next ping leaves from the pong handler). B echoes every message
 * back. Ours: `ext.send` and `messages$` on both ends; raw: a Protomux channel's `send` and
 * `onmessage`. Rounds alternate A/B; median and p99 are over every round trip of a side.
 */
export async function extLatency(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const smoke = opts.smoke ?? false
  const rounds = smoke ? 1 : 10
  const trips = smoke ? 200 : 3000
  const startedAt = new Date()
  const t0 = now()
  const res = new Resources()
  try {
    const net = await networkFor(opts, res)
    const ours = opts.only === 'raw' ? null : await oursPair(net, res)
    const raw = opts.only === 'ours' ? null : await rawPair(net, res)
    const subscription = new Subscription()
    res.defer(() => subscription.unsubscribe())
    // B echoes.
    if (ours !== null) {
      const { extB } = ours
      subscription.add(extB.messages$.subscribe(({ message, peer }) => extB.send(message, peer)))
    }
    if (raw !== null) {
      const { b } = raw
      b.onmessage = (bytes) => b.message.send(bytes)
    }
    const samples = { ours: [] as number[], raw: [] as number[] }
    const roundMedians = { ours: [] as number[], raw: [] as number[] }
    // One unmeasured warm-up round per side, then A/B/A/B.
    for (let i = smoke ? 0 : -1; i < rounds; i++) {
      if (ours !== null) {
        const rtts = await oursPingPong(ours, trips)
        if (i >= 0) {
          samples.ours.push(...rtts)
          roundMedians.ours.push(median(rtts))
        }
      }
      if (raw !== null) {
        const rtts = await rawPingPong(raw, trips)
        if (i >= 0) {
          samples.raw.push(...rtts)
          roundMedians.raw.push(median(rtts))
        }
      }
    }
    const side = (values: number[]): number[] | null => (values.length === 0 ? null : values)
    const us = (values: number[]): number[] => values.map((ms) => round(ms * 1000, 1))
    return {
      scenario: 'ext-latency',
      title: `Extension latency: ${MESSAGE_BYTES}-byte ping-pong round trips`,
      smoke,
      startedAt: startedAt.toISOString(),
      durationMs: now() - t0,
      params: { messageBytes: MESSAGE_BYTES, rounds, tripsPerRound: trips },
      metrics: [
        metric({
          key: 'median',
          label: 'round trip, median',
          unit: 'µs',
          better: 'lower',
          ours: side(us(samples.ours)),
          raw: side(us(samples.raw)),
          target: { op: '<=', value: 1.15, on: 'ratio' },
          keepSamples: false,
          paired: false
        }),
        metric({
          key: 'p99',
          label: 'round trip, p99',
          unit: 'µs',
          better: 'lower',
          ours: side(us(samples.ours)),
          raw: side(us(samples.raw)),
          reduce: (values) => percentile(values, 99),
          keepSamples: false,
          paired: false
        }),
        metric({
          key: 'round-medians',
          label: 'median of the per-round medians',
          unit: 'µs',
          better: 'lower',
          ours: side(us(roundMedians.ours)),
          raw: side(us(roundMedians.raw))
        })
      ],
      checks: {
        roundTripsOurs: samples.ours.length,
        roundTripsRaw: samples.raw.length,
        allFinite: [...samples.ours, ...samples.raw].every((v) => Number.isFinite(v) && v > 0)
      },
      notes: [
        `${rounds} rounds of ${trips} round trips per side after one unmeasured warm-up round; ` +
          'per-sample lists are left out of the JSON (per-round medians are kept).'
      ]
    }
  } finally {
    await res.cleanup()
  }
}

/** Runs `trips` round trips one after the other and returns each one's duration (ms). */
function oursPingPong({ extA, peerB }: OursPair, trips: number): Promise<number[]> {
  return new Promise<number[]>((resolve) => {
    const rtts: number[] = []
    const message = Buffer.alloc(MESSAGE_BYTES, 1)
    let sentAt = 0
    const subscription = extA.messages$.subscribe(() => {
      rtts.push(now() - sentAt)
      if (rtts.length === trips) {
        subscription.unsubscribe()
        resolve(rtts)
        return
      }
      sentAt = now()
      extA.send(message, peerB)
    })
    sentAt = now()
    extA.send(message, peerB)
  })
}

function rawPingPong({ a }: RawPair, trips: number): Promise<number[]> {
  return new Promise<number[]>((resolve) => {
    const rtts: number[] = []
    const message = Buffer.alloc(MESSAGE_BYTES, 1)
    let sentAt = 0
    a.onmessage = () => {
      rtts.push(now() - sentAt)
      if (rtts.length === trips) {
        a.onmessage = () => {}
        resolve(rtts)
        return
      }
      sentAt = now()
      a.message.send(message)
    }
    sentAt = now()
    a.message.send(message)
  })
}
