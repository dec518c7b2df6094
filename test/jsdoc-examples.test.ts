/**
 * Every ```ts example in the JSDoc of lib/ and operators/ compiles under `strict`, against the
 * sources, importing the package by its public names (as a user copies it). Every example with a
 * `// Logs:` block (in the JSDoc, README.md or docs/) also runs, and what it logs is compared,
 * line by line, with what the block says.
 */
import fs from 'fs'
import path from 'path'
import { format } from 'util'
import ts from 'typescript'

const ROOT = path.join(__dirname, '..')
const OUT = path.join(ROOT, 'node_modules', '.cache', 'jsdoc-examples')

function sources(): string[] {
  return ['lib', 'operators'].flatMap((dir) => {
    const abs = path.join(ROOT, dir)
    return fs
      .readdirSync(abs, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => path.join(abs, f))
  })
}

interface Example {
  readonly from: string
  readonly code: string
}

/** The ```ts blocks inside /** … *\/ comments, with the leading ` * ` taken off. */
function examples(): Example[] {
  const found: Example[] = []
  for (const file of sources()) {
    const lines = fs.readFileSync(file, 'utf8').split('\n')
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].trim() !== '* ```ts') continue
      const body: string[] = []
      let j = i + 1
      for (; j < lines.length && lines[j].trim() !== '* ```'; j++) body.push(lines[j].replace(/^\s*\* ?/, ''))
      found.push({ from: `${path.relative(ROOT, file)}:${i + 1}`, code: body.join('\n') + '\n' })
      i = j
    }
  }
  return found
}

/** The ```ts blocks of README.md and docs/*.md (what the consumer suite compiles there). */
function docExamples(): Example[] {
  const docs = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
  const found: Example[] = []
  for (const doc of docs) {
    const lines = fs.readFileSync(path.join(ROOT, doc), 'utf8').split('\n')
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].trim() !== '```ts') continue
      const end = lines.findIndex((l, j) => j > i && l.trim() === '```')
      found.push({ from: `${doc}:${i + 1}`, code: lines.slice(i + 1, end).join('\n') + '\n' })
      i = end
    }
  }
  return found
}

/** What a `// Logs:` block says the example logs, one entry per line (`//` alone: an empty line); null without one. */
export function claimedLogs(code: string): string[] | null {
  const lines = code.split('\n')
  const at = lines.findIndex((l) => l.trim() === '// Logs:')
  if (at === -1) return null
  const claimed: string[] = []
  for (const line of lines.slice(at + 1)) {
    const m = /^\s*\/\/ ?(.*)$/.exec(line)
    if (m === null) break
    claimed.push(m[1].trimEnd())
  }
  return claimed
}

/** The package's entry points, as the sources the examples run against. */
const ENTRY_SOURCES: Readonly<Record<string, string>> = {
  '@basestore/networker': 'lib/index.ts',
  '@basestore/networker/operators': 'operators/index.ts',
  '@basestore/networker/testnet': 'lib/testnet.ts',
  '@basestore/networker/testing': 'lib/testing.ts',
  '@basestore/networker/remote': 'lib/remote/client.ts',
  '@basestore/networker/remote/server': 'lib/remote/server.ts',
  '@basestore/networker/prometheus': 'lib/prometheus.ts'
}

/**
 * Runs one example as a CommonJS module (its package imports pointed at the sources, which jest
 * compiles) and returns every line it logged with `console.log`, after one more macrotask.
 */
async function runExample(example: Example, index: number): Promise<string[]> {
  const { outputText } = ts.transpileModule(example.code, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: `run-${index}.ts`
  })
  const js = outputText.replace(/require\("(@basestore\/networker[^"]*)"\)/g, (whole, id: string) => {
    const source = ENTRY_SOURCES[id]
    if (source === undefined) throw new Error(`${example.from}: unknown entry point ${id}`)
    return `require(${JSON.stringify(path.join(ROOT, source))})`
  })
  fs.mkdirSync(OUT, { recursive: true })
  const file = path.join(OUT, `run-${index}.js`)
  fs.writeFileSync(file, js)
  const logged: string[] = []
  const spy = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    logged.push(...format(...args).split('\n'))
  })
  try {
    jest.isolateModules(() => {
      require(file)
    })
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    spy.mockRestore()
  }
  return logged
}

const all = examples()
const withLogs = [...all, ...docExamples()].filter((e) => claimedLogs(e.code) !== null)

it('finds the JSDoc examples (every operator and the testing kit has one)', () => {
  const files = new Set(all.map((e) => e.from.split(':')[0]))
  for (const f of ['dedupeConnections', 'peerSet', 'detectFlush', 'topicState', 'rates']) expect(files).toContain(`operators/${f}.ts`)
  expect(files).toContain('lib/testing.ts')
})

it('every JSDoc example type-checks under strict', () => {
  fs.rmSync(OUT, { recursive: true, force: true })
  fs.mkdirSync(OUT, { recursive: true })
  const names = all.map((example, i) => {
    const name = path.join(OUT, `example-${i}.ts`)
    // `export {}`: each example is its own (ES) module, as it would be in a user's file.
    fs.writeFileSync(name, `${example.code}\nexport {}\n`)
    return name
  })
  const declarations = fs.readdirSync(path.join(ROOT, 'types')).map((f) => path.join(ROOT, 'types', f))
  const program = ts.createProgram([...names, ...declarations], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node', 'jest'],
    typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    baseUrl: ROOT,
    paths: {
      '@basestore/networker': ['lib/index.ts'],
      '@basestore/networker/operators': ['operators/index.ts'],
      '@basestore/networker/testnet': ['lib/testnet.ts'],
      '@basestore/networker/testing': ['lib/testing.ts'],
      '@basestore/networker/remote': ['lib/remote/client.ts'],
      '@basestore/networker/remote/server': ['lib/remote/server.ts'],
      '@basestore/networker/prometheus': ['lib/prometheus.ts']
    }
  })
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && names.includes(path.resolve(d.file.fileName)))
    .map((d) => {
      const i = names.indexOf(path.resolve(d.file!.fileName))
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0)
      return `${all[i].from} (+${line}): ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
    })
  expect(problems).toEqual([])
})

it('finds the examples that claim what they log (every operator has one)', () => {
  const files = new Set(withLogs.map((e) => e.from.split(':')[0]))
  for (const f of ['dedupeConnections', 'peerSet', 'detectFlush', 'topicState', 'topicEvents', 'rates']) expect(files).toContain(`operators/${f}.ts`)
})

it('reads a Logs block line by line, an empty comment line as an empty line', () => {
  expect(claimedLogs('f()\n// Logs:\n//\n// a b\nafter()\n// not part of it\n')).toEqual(['', 'a b'])
  expect(claimedLogs('f()\n')).toBeNull()
})

describe('every example with a // Logs: block logs what it says', () => {
  withLogs.forEach((example, i) => {
    it(example.from, async () => {
      expect(await runExample(example, i)).toEqual(claimedLogs(example.code))
    })
  })
})
