/**
 * Fairness beside a peer that never reads (issue 22, case 4): `npm run bench:stalled [-- --seconds N --rounds R]`.
 *
 * A sender broadcasts 64-byte messages on one extension, honouring `broadcast()` → `drained()`,
 * for N seconds (default 10). Alone: its only peer is an honest networker reader. Beside: a raw
 * Protomux peer also opens the extension and never reads or acknowledges anything. Each round
 * runs both, alternating, on fresh networkers of one loopback testnet; the figure is the honest
 * reader's messages per second, over the whole run and over its last 80 % (after the stall
 * deadline of 1 s has passed), and the ratio beside / alone. Prints one JSON line per run and a
 * summary. Run it alone on the machine.
 */
import { Subscription } from 'rxjs'
import { createHarness, Harness, connect, until, waitForPeers } from '../test/kit'
import { rawPeer } from '../test/kit/raw-peer'
import { numberArg } from './common'

interface Run {
  mode: 'alone' | 'beside'
  seconds: number
  received: number
  rate: number
  /** Messages per second over the last 80 % of the run. */
  steadyRate: number
  stalledReports: number
}

async function trial(h: Harness, mode: Run['mode'], seconds: number): Promise<Run> {
  const subscriptions = new Subscription()
  const sender = h.networker(h.store())
  const reader = h.networker(h.store())
  const ext = sender.registerExtension('bench', { encoding: 'binary' })
  const readerExt = reader.registerExtension('bench', { encoding: 'binary' })
  let received = 0
  let receivedAtSteady = 0
  let stalledReports = 0
  subscriptions.add(readerExt.messages$.subscribe(() => received++))
  subscriptions.add(sender.errors$.subscribe((e) => (e.code === 'ERR_PEER_STALLED' ? stalledReports++ : undefined)))
  await connect(sender, reader)
  if (mode === 'beside') {
    const raw = rawPeer(h, sender.publicKey as Buffer, 'bench')
    await waitForPeers(sender, 2)
    await until(() => raw.links.length > 0, 20_000, 'the raw link')
  }
  const message = Buffer.alloc(64, 1)
  const start = performance.now()
  const end = start + seconds * 1000
  const steadyFrom = start + seconds * 200
  let steadyMarked = false
  while (performance.now() < end) {
    if (!steadyMarked && performance.now() >= steadyFrom) {
      steadyMarked = true
      receivedAtSteady = received
    }
    for (let i = 0; i < 64; i++) if (!ext.broadcast(message)) await ext.drained()
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  const elapsed = (performance.now() - start) / 1000
  subscriptions.unsubscribe()
  await Promise.all([sender.close(), reader.close()])
  return {
    mode,
    seconds: elapsed,
    received,
    rate: Math.round(received / elapsed),
    steadyRate: Math.round((received - receivedAtSteady) / (elapsed * 0.8)),
    stalledReports
  }
}

async function main(): Promise<void> {
  const seconds = numberArg('seconds', 10)
  const rounds = numberArg('rounds', 3)
  const runs: Run[] = []
  for (let round = 0; round < rounds; round++) {
    const order: Array<Run['mode']> = round % 2 === 0 ? ['alone', 'beside'] : ['beside', 'alone']
    for (const mode of order) {
      const h = await createHarness()
      try {
        const run = await trial(h, mode, seconds)
        runs.push(run)
        console.log(JSON.stringify(run))
      } finally {
        await h.cleanup()
      }
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const of = (mode: Run['mode'], key: 'rate' | 'steadyRate'): number => median(runs.filter((r) => r.mode === mode).map((r) => r[key]))
  console.log(
    JSON.stringify({
      summary: true,
      aloneRate: of('alone', 'rate'),
      besideRate: of('beside', 'rate'),
      ratio: +(of('beside', 'rate') / of('alone', 'rate')).toFixed(3),
      steadyRatio: +(of('beside', 'steadyRate') / of('alone', 'steadyRate')).toFixed(3)
    })
  )
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  }
)
