/**
 * The layering of DESIGN.md, as dependency-cruiser rules (.dependency-cruiser.cjs): no cycles
 * (in lib/, operators/, bench/ and test/), operators import nothing of lib/, only swarm-source
 * touches Hyperswarm, only the extension transport and keep-alive touch Protomux, nothing
 * imports the facade, and the browser-safe modules use no Node built-in.
 */
import fs from 'fs'
import path from 'path'
import { execFile } from 'child_process'
import { promisify } from 'util'

const ROOT = path.join(__dirname, '..')
const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise')

interface Summary {
  readonly summary: { readonly violations: ReadonlyArray<{ rule: { name: string }; from: string; to: string }> }
}

/** dependency-cruiser is ESM-only: run its CLI, as `npx depcruise` would. */
async function violations(): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    DEPCRUISE,
    ['lib', 'operators', 'bench', 'test', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  const result = JSON.parse(stdout) as Summary
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)
}

it('lib/, operators/, bench/ and test/ follow the layering rules', async () => {
  expect(await violations()).toEqual([])
})

it.each([
  ['operators/__planted.ts', "import { errors } from '../lib/errors'\nexport const x = errors\n", 'operators-are-pure'],
  ['lib/__planted.ts', "import Hyperswarm from 'hyperswarm'\nexport const x = Hyperswarm\n", 'only-swarm-source-touches-hyperswarm'],
  ['lib/__planted.ts', "import { Networker } from './facade'\nexport const x = Networker\n", 'nothing-imports-the-facade'],
  ['lib/__planted.ts', "import { registerPrometheus } from './prometheus'\nexport const x = registerPrometheus\n", 'nothing-imports-the-prometheus-entry'],
  ['lib/__planted.ts', "import { Gauge } from 'prom-client'\nexport const x = Gauge\n", 'only-the-prometheus-entry-touches-prom-client-and-stats'],
  ['lib/__planted.ts', "import HyperswarmStats from 'hyperswarm-stats'\nexport const x = HyperswarmStats\n", 'only-the-prometheus-entry-touches-prom-client-and-stats'],
  ['operators/__planted.ts', "import { EventEmitter } from 'events'\nexport const x = EventEmitter\n", 'browser-safe-modules-use-no-node-builtins'],
  ['lib/remote/client-planted.ts', "import { createServer } from 'http'\nexport const x = createServer\n", 'browser-safe-modules-use-no-node-builtins'],
  ['lib/remote/client-planted.ts', "import { serveNetworker } from './server'\nexport const x = serveNetworker\n", 'browser-safe-modules-stay-browser-safe']
])('a planted %s breaking the rule is caught (%#)', async (file, code, rule) => {
  const planted = path.join(ROOT, file)
  fs.writeFileSync(planted, code)
  try {
    expect((await violations()).some((v) => v.startsWith(`${rule}:`))).toBe(true)
  } finally {
    fs.rmSync(planted, { force: true })
  }
})

it.each([
  ['bench', 'bench/__planted-a.ts', 'bench/__planted-b.ts'],
  ['test', 'test/kit/__planted-a.ts', 'test/__planted-b.ts']
])('a planted import cycle in %s/ is caught', async (_dir, a, b) => {
  const files = [
    [a, `import { b } from '${relative(a, b)}'\nexport const a = () => b\n`],
    [b, `import { a } from '${relative(b, a)}'\nexport const b = () => a\n`]
  ]
  for (const [file, code] of files) fs.writeFileSync(path.join(ROOT, file), code)
  try {
    // dependency-cruiser reports the cycle once, from whichever of the two it met first.
    expect((await violations()).some((v) => v.startsWith('no-circular: ') && v.includes(a) && v.includes(b))).toBe(true)
  } finally {
    for (const [file] of files) fs.rmSync(path.join(ROOT, file), { force: true })
  }
})

/** The import specifier of module `to` in module `from` (both relative to the root, `.ts` dropped). */
function relative(from: string, to: string): string {
  const spec = path.relative(path.dirname(from), to).replace(/\.ts$/, '')
  return spec.startsWith('.') ? spec : `./${spec}`
}
