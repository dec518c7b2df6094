/**
 * A long fuzzing campaign: `npm run fuzz -- --minutes N`. Prints progress on stderr and writes
 * its figures to bench/results/fuzz-<date>.json (frames sent, sequences, crashes, the worst heap
 * growth and the sequence that caused it, errors by code, every distinct failure with its
 * smallest sequence).
 *
 * Options: --minutes N (default 5), --seed S, --shrink-seconds N (per new failure, default 60),
 * --max-batch-mib N (largest BATCH of empty messages, default 4), --budget-mib N (heap budget,
 * default FUZZ_HEAP_BUDGET, 24.5), --out FILE, --label TEXT (what was fuzzed, kept in the figures), --verbose (the
 * victim's stderr too).
 *
 * `--replay FILE` runs one sequence instead (a JSON array as in a report's `smallestJson`, or a
 * report: its first finding's) and prints the outcome: how a finding is reproduced.
 */
import fs from 'fs'
import path from 'path'
import { execSync } from 'child_process'
import { createHarness } from '../kit/harness'
import { Sequence, describeSequence, sequenceFromJson, sequenceToJson } from './actions'
import { formatFinding, findingToJson, runCampaign } from './campaign'
import { FuzzEngine, FUZZ_HEAP_BUDGET } from './engine'

const MiB = 1024 * 1024

function option(name: string): string | undefined {
  const args = process.argv.slice(2)
  const i = args.indexOf(`--${name}`)
  if (i !== -1) return args[i + 1]
  const inline = args.find((a) => a.startsWith(`--${name}=`))
  return inline?.slice(name.length + 3)
}

function number(name: string, fallback: number): number {
  const text = option(name)
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a number, got ${text}`)
  return n
}

function gitCommit(): string | null {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: path.join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
  } catch {
    return null
  }
}

/** The sequence in a replay file: an array of actions, or a report (its first finding's). */
function readReplay(file: string): Sequence {
  const json = JSON.parse(fs.readFileSync(file, 'utf-8')) as unknown
  if (Array.isArray(json)) return sequenceFromJson(json)
  const findings = (json as { findings?: Array<{ smallestJson?: unknown }> }).findings ?? []
  if (findings[0]?.smallestJson === undefined) throw new Error(`${file}: neither a sequence nor a report with findings`)
  return sequenceFromJson(findings[0].smallestJson)
}

async function replay(file: string): Promise<void> {
  const seq = readReplay(file)
  const h = await createHarness()
  const engine = await FuzzEngine.start(h, { echoStderr: true, spare: false })
  process.stderr.write(describeSequence(seq).map((line) => `  ${line}`).join('\n') + '\n')
  const outcome = await engine.run(seq)
  process.stderr.write(
    JSON.stringify({ ok: outcome.ok, growthMiB: Number((outcome.growth / MiB).toFixed(2)), frames: outcome.frames, ms: outcome.ms, errors: outcome.figures?.errors }) + '\n'
  )
  for (const failure of outcome.failures) process.stderr.write(`${failure.signature}\n${failure.detail}\n\n`)
  await h.cleanup()
  process.exit(outcome.ok ? 0 : 1)
}

async function main(): Promise<void> {
  const replayFile = option('replay')
  if (replayFile !== undefined) return replay(replayFile)
  const minutes = number('minutes', 5)
  const shrinkMs = number('shrink-seconds', 60) * 1000
  const maxBatchBytes = Math.floor(number('max-batch-mib', 4) * MiB)
  const heapBudget = Math.floor(number('budget-mib', FUZZ_HEAP_BUDGET / MiB) * MiB)
  const label = option('label') ?? null
  const seedText = option('seed')
  const seed = seedText === undefined ? Math.floor(Math.random() * 0x7fffffff) : Number(seedText)
  const verbose = process.argv.includes('--verbose')
  const started = new Date()
  const stamp = started.toISOString().replace(/[:]/g, '').replace(/\..*/, '')
  const out = option('out') ?? path.join(__dirname, '..', '..', 'bench', 'results', `fuzz-${stamp}.json`)
  const say = (line: string): void => {
    process.stderr.write(`[fuzz ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${line}\n`)
  }

  const h = await createHarness()
  const engine = await FuzzEngine.start(h, { heapBudget, log: say, echoStderr: verbose })
  const totals = engine.totals
  say(`campaign of ${minutes} min, seed ${seed}, heap budget ${heapBudget / MiB} MiB, batches up to ${maxBatchBytes / MiB} MiB`)
  let lastProgress = Date.now()
  const report = await runCampaign(engine, {
    searchMs: minutes * 60_000,
    shrinkMs,
    seed,
    model: { maxBatchBytes, maxMessageSize: engine.victimConfig.maxMessageSize },
    onSequence: (outcome) => {
      if (Date.now() - lastProgress < 10_000) return
      lastProgress = Date.now()
      say(
        `${totals.sequences} sequences, ${totals.hostile.frames} frames, ${totals.crashes} crashes, worst heap growth ${(totals.worstGrowth.bytes / MiB).toFixed(1)} MiB, last ${outcome.ms} ms`
      )
    },
    onFinding: (finding) => say(`FOUND ${finding.signature} after ${finding.foundAfter.sequences} sequences / ${finding.foundAfter.frames} frames`)
  })
  const seconds = report.ms / 1000
  const result = {
    date: started.toISOString(),
    commit: gitCommit(),
    label,
    node: process.version,
    minutes,
    seed: report.seed,
    victim: engine.victimConfig,
    heapBudgetMiB: heapBudget / MiB,
    maxBatchBytes,
    sequences: totals.sequences,
    frames: totals.hostile.frames,
    messages: totals.hostile.messages,
    bytes: totals.hostile.bytes,
    connections: totals.hostile.connections,
    framesPerSecond: Math.round(totals.hostile.frames / seconds),
    sequencesPerSecond: Number((totals.sequences / seconds).toFixed(2)),
    msActing: totals.actingMs,
    msChecking: totals.checkingMs,
    crashes: totals.crashes,
    unresponsive: totals.unresponsive,
    victimRestarts: totals.restarts,
    worstHeapGrowth: {
      MiB: Number((totals.worstGrowth.bytes / MiB).toFixed(2)),
      sequence: totals.worstGrowth.sequence === null ? null : describeSequence(totals.worstGrowth.sequence),
      sequenceJson: totals.worstGrowth.sequence === null ? null : sequenceToJson(totals.worstGrowth.sequence)
    },
    heapDrift: { MiB: Number((totals.baselineDrift.bytes / MiB).toFixed(2)), sequences: totals.baselineDrift.sequences },
    errorsByCode: totals.errorsByCode,
    warnings: totals.warnings,
    maxLoopDelayMs: Math.round(totals.maxLoopDelayMs),
    honest: totals.honest,
    hostile: totals.hostile,
    findings: report.findings.map(findingToJson)
  }
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n')
  say(`done: ${totals.sequences} sequences, ${totals.hostile.frames} frames (${result.framesPerSecond}/s), ${totals.crashes} crashes, ${report.findings.length} distinct failures; worst heap growth ${result.worstHeapGrowth.MiB} MiB`)
  for (const finding of report.findings) process.stderr.write(formatFinding(finding) + '\n\n')
  say(`figures written to ${out}`)
  await h.cleanup()
  process.exit(report.findings.length === 0 ? 0 : 1)
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(2)
})
