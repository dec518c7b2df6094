/**
 * Protocol fuzzing with a raw hostile peer (issue 22): a bounded campaign of the fuzzer in
 * test/fuzz against a real networker on the loopback DHT. The victim runs in its own process
 * with no `unhandledRejection`/`uncaughtException` handler (Node 20 ends it on either, as it
 * would end a user's process); fast-check drives a raw Protomux peer with sequences of valid,
 * mutated and random frames on the extension/2 and keep-alive channels and under them, one
 * fresh hostile connection per sequence, while an honest networker peer sends numbered messages
 * the whole time. After every sequence the victim must be alive and answering, its heap growth
 * within the budget, every error on `errors$` coded, and the honest messages delivered once and
 * in order. A failure is shrunk and printed with its smallest sequence and the victim's stack.
 *
 * `npm run fuzz -- --minutes N` runs the same engine for longer and writes its figures.
 * FUZZ_SEED=<n> replays a campaign's sequences; FUZZ_SEARCH_MS / FUZZ_SHRINK_MS change its length.
 */
import { createHarness, Harness } from '../kit'
import { Sequence, describeSequence } from '../fuzz/actions'
import { formatFinding, runCampaign } from '../fuzz/campaign'
import { FuzzEngine } from '../fuzz/engine'
import { CANARY_TRIGGER } from '../fuzz/protocol'

const SEARCH_MS = Number(process.env.FUZZ_SEARCH_MS ?? 24_000)
const SHRINK_MS = Number(process.env.FUZZ_SHRINK_MS ?? 10_000)
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
const MiB = 1024 * 1024

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

test('fuzzing extension/2 and keep-alive with a raw hostile peer: the victim (no rejection handler) survives every sequence, heap growth within the budget, every error coded, the honest peer\'s messages delivered once and in order', async () => {
  const engine = await FuzzEngine.start(h, { rpcMs: 15_000, catchUpMs: 15_000 })
  const report = await runCampaign(engine, {
    searchMs: SEARCH_MS,
    shrinkMs: SHRINK_MS,
    seed: SEED,
    model: { maxBatchBytes: 2 * MiB, maxMessageSize: engine.victimConfig.maxMessageSize }
  })
  const { totals } = engine
  const summary =
    `seed ${report.seed}: ${totals.sequences} sequences, ${totals.hostile.frames} frames, ${totals.hostile.connections} connections, ` +
    `${totals.crashes} crashes, worst heap growth ${(totals.worstGrowth.bytes / MiB).toFixed(1)} MiB, ` +
    `heap drift ${(totals.baselineDrift.bytes / MiB).toFixed(1)} MiB over ${totals.baselineDrift.sequences} sequences, errors ${JSON.stringify(totals.errorsByCode)}`
  console.log(summary)
  // The campaign ran (a campaign that ran nothing would pass anything)…
  expect(report.sequences).toBeGreaterThan(0)
  expect(totals.hostile.frames).toBeGreaterThan(0)
  expect(totals.honest.delivered).toBeGreaterThan(0)
  expect(totals.hostile.ownErrorMessages).toEqual([]) // the fuzzer itself did what it meant to
  // …and found nothing: every finding is printed with its smallest sequence and the stack.
  expect(`${summary}\n\n${report.findings.map(formatFinding).join('\n\n')}`).toBe(`${summary}\n\n`)
  // No leak per hostile connection either: the heap between sequences stays within the budget.
  expect(totals.baselineDrift.bytes).toBeLessThan(engine.budget)
}, 120_000)

test('the engine sees a victim die of an unhandled rejection (a canary extension rejects on purpose), reports its stack, and goes on with a fresh victim', async () => {
  const engine = await FuzzEngine.start(h, { victim: { canary: true } })
  const opening: Sequence = [
    { t: 'keepAliveOpen' },
    { t: 'extOpen', name: 'canary' },
    { t: 'resume', name: 'canary', seq: { rel: 0 }, form: 'min', epoch: { kind: 'same' } }
  ]
  const harmless = await engine.run([...opening, { t: 'data', name: 'canary', payload: { kind: 'text', text: 'hello' } }])
  expect(harmless.failures).toEqual([])

  const deadly: Sequence = [...opening, { t: 'data', name: 'canary', payload: { kind: 'text', text: CANARY_TRIGGER } }]
  const outcome = await engine.run(deadly)
  expect(describeSequence(deadly).at(-1)).toBe(`DATA canary "${CANARY_TRIGGER}"`)
  expect(outcome.ok).toBe(false)
  expect(outcome.failures[0].kind).toBe('crash')
  expect(outcome.failures[0].signature).toMatch(/^crash:unhandledRejection:Error: canary: a rejection nobody handles @ /)
  expect(outcome.failures[0].detail).toContain('test/fixtures/fuzz-victim.ts')
  expect(outcome.death?.code).not.toBe(0)

  const after = await engine.run([...opening, { t: 'burst', name: 'fuzz', count: 5 }])
  expect(after.failures).toEqual([])
  expect(engine.totals.restarts).toBe(1)
}, 60_000)
