/**
 * Every ```ts example in the JSDoc of lib/ and operators/ compiles under `strict`, against the
 * sources, importing the package by its public names (as a user copies it).
 */
import fs from 'fs'
import path from 'path'
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

const all = examples()

it('finds the JSDoc examples (every operator and the testing kit has one)', () => {
  const files = new Set(all.map((e) => e.from.split(':')[0]))
  for (const f of ['dedupeConnections', 'peerSet', 'detectFlush', 'topicState']) expect(files).toContain(`operators/${f}.ts`)
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
      '@basestore/networker/remote/server': ['lib/remote/server.ts']
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
