/**
 * The benchmark runner: `npm run bench [-- <scenario>…] [--smoke] [--only=ours|raw] [--no-write]`.
 *
 * Runs the scenarios in order, one progress line each, then writes `bench/results/latest.json`
 * (a partial run replaces only its scenarios) and the generated block of `docs/BENCHMARKS.md`.
 * `--smoke` (tiny sizes), `--only` (one side, for profiling) and `--dht-window` (topics with
 * another DHT congestion window) never write; `--render` only rewrites the document from the
 * results file.
 */
import fs from 'fs'
import path from 'path'
import type { Metric, ScenarioOptions, ScenarioResult } from './common'
import { discovery } from './discovery'
import { simultaneous } from './simultaneous'
import { replication } from './replication'
import { extThroughput } from './ext-throughput'
import { extLatency } from './ext-latency'
import { topics } from './topics'
import { peers } from './peers'
import { operators } from './operators'
import { metrics } from './metrics-overhead'
import { BenchFile, machine, updateDocument } from './report'

/** Every scenario, in run order. */
export const SCENARIOS: ReadonlyArray<readonly [string, (opts: RunOptions) => Promise<ScenarioResult>]> = [
  ['discovery', discovery],
  ['simultaneous', simultaneous],
  ['replication', replication],
  ['ext-throughput', extThroughput],
  ['ext-latency', extLatency],
  ['topics', topics],
  ['peers', peers],
  ['operators', operators],
  ['metrics', metrics]
]

/** What the runner passes to every scenario (each reads what it knows). */
type RunOptions = ScenarioOptions & { dhtWindow?: number | 'default' }

const ROOT = path.resolve(__dirname, '..')
const RESULTS = path.join(ROOT, 'bench', 'results', 'latest.json')
const DOC = path.join(ROOT, 'docs', 'BENCHMARKS.md')

interface Args {
  names: string[]
  smoke: boolean
  only: 'ours' | 'raw' | undefined
  write: boolean
  /** topics: the DHT nodes' congestion window. */
  dhtWindow: number | 'default' | undefined
  /** Only rewrite docs/BENCHMARKS.md from latest.json. */
  render: boolean
}

function parseArgs(argv: readonly string[]): Args {
  const known = new Map(SCENARIOS)
  const args: Args = { names: [], smoke: false, only: undefined, write: true, dhtWindow: undefined, render: false }
  for (const arg of argv) {
    if (arg === '--smoke') args.smoke = true
    else if (arg === '--render') args.render = true
    else if (arg.startsWith('--dht-window=')) {
      const value = arg.slice('--dht-window='.length)
      args.dhtWindow = value === 'default' ? 'default' : Number(value)
      if (args.dhtWindow !== 'default' && !(args.dhtWindow > 0)) {
        console.error(`--dht-window takes a positive number or "default", not "${value}"`)
        process.exit(2)
      }
    } else if (arg === '--no-write') args.write = false
    else if (arg === '--only=ours' || arg === '--only=raw') args.only = arg.endsWith('ours') ? 'ours' : 'raw'
    else if (arg === '--help' || arg === '-h') {
      console.log(
        `usage: npm run bench [-- <scenario>…] [--smoke] [--only=ours|raw] [--no-write] [--dht-window=<n>|default] [--render]\nscenarios: ${[...known.keys()].join(', ')}`
      )
      process.exit(0)
    } else if (known.has(arg)) args.names.push(arg)
    else {
      console.error(`unknown scenario or option "${arg}"; scenarios: ${[...known.keys()].join(', ')}`)
      process.exit(2)
    }
  }
  if (args.names.length === 0) args.names = SCENARIOS.map(([name]) => name)
  // A smoke run, one side or a changed DHT window is not the reference measurement.
  if (args.smoke || args.only !== undefined || args.dhtWindow !== undefined) args.write = false
  return args
}

/** The progress line's tail: `both-connected ours 5.37 ms, raw 4.52 ms, ratio 1.19 (target missed)`. */
function summary(result: ScenarioResult): string {
  const shown = result.metrics.filter((m) => m.target !== null)
  const metrics = shown.length > 0 ? shown : result.metrics.slice(0, 1)
  const text = metrics.map((m) => describe(m, !result.smoke)).join('; ')
  return result.smoke ? `${text} (smoke sizes: not a measurement)` : text
}

function describe(m: Metric, verdict: boolean): string {
  const v = (x: number | null): string => (x === null ? '—' : Number(x.toPrecision(4)).toLocaleString('en-US'))
  const ratio = m.ratio === null ? '' : `, ratio ${m.ratio.toFixed(2)}`
  const met = !verdict || m.met === null ? '' : m.met ? ' (target met)' : ' (target missed)'
  return `${m.key} ours ${v(m.ours)} ${m.unit}, raw ${v(m.raw)} ${m.unit}${ratio}${met}`
}

function writeDocument(file: BenchFile): void {
  const doc = fs.existsSync(DOC) ? fs.readFileSync(DOC, 'utf8') : null
  fs.mkdirSync(path.dirname(DOC), { recursive: true })
  fs.writeFileSync(DOC, updateDocument(doc, file, SCENARIOS.map(([n]) => n)))
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  if (args.render) {
    const file = readPrevious()
    if (file === null) throw new Error(`no results in ${path.relative(ROOT, RESULTS)}: run the benchmarks first`)
    writeDocument(file)
    console.log(`wrote ${path.relative(ROOT, DOC)} from ${path.relative(ROOT, RESULTS)}`)
    return
  }
  const selected = SCENARIOS.filter(([name]) => args.names.includes(name))
  const results: Record<string, ScenarioResult & { machine: ReturnType<typeof machine> }> = {}
  const started = Date.now()
  let failed = 0
  for (const [index, [name, run]] of selected.entries()) {
    const at = machine()
    const prefix = `[${index + 1}/${selected.length}] ${name}`
    console.log(`${prefix} …`)
    try {
      const result = await run({ smoke: args.smoke, only: args.only, dhtWindow: args.dhtWindow, log: (line) => console.log(line) })
      results[name] = { ...result, machine: at }
      console.log(`${prefix} done in ${(result.durationMs / 1000).toFixed(1)} s: ${summary(result)}`)
    } catch (err) {
      failed++
      console.error(`${prefix} FAILED:`, err)
    }
  }
  console.log(`all done in ${((Date.now() - started) / 1000).toFixed(1)} s${failed > 0 ? `, ${failed} failed` : ''}`)
  if (args.write && Object.keys(results).length > 0) {
    const previous = readPrevious()
    const complete = selected.length === SCENARIOS.length
    const file: BenchFile = {
      machine: machine(),
      writtenAt: new Date().toISOString(),
      scenarios: complete ? results : { ...(previous?.scenarios ?? {}), ...results }
    }
    // The machine line describes the first scenario's start (its load average).
    const first = SCENARIOS.map(([n]) => file.scenarios[n]).find((r) => r !== undefined)
    const out: BenchFile = first?.machine ? { ...file, machine: first.machine } : file
    fs.mkdirSync(path.dirname(RESULTS), { recursive: true })
    fs.writeFileSync(RESULTS, `${JSON.stringify(out, null, 2)}\n`)
    writeDocument(out)
    console.log(`wrote ${path.relative(ROOT, RESULTS)} and ${path.relative(ROOT, DOC)}`)
  }
  process.exitCode = failed > 0 ? 1 : 0
}

function readPrevious(): BenchFile | null {
  try {
    return JSON.parse(fs.readFileSync(RESULTS, 'utf8')) as BenchFile
  } catch {
    return null
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
