/**
 * The package as its users install it: `npm pack`, the tarball installed into a fresh consumer
 * project (in a temp dir, once per run), then every check a user's first steps make.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { execFile } from 'child_process'
import { promisify } from 'util'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS, chromiumPath } from '../chromium'
import { blockSource, extractBlocks } from './extract'

const run = promisify(execFile)
const ROOT = path.join(__dirname, '..', '..')
const FIXTURE = path.join(__dirname, 'fixture')
const BIN = (name: string) => path.join(ROOT, 'node_modules', '.bin', name)
const ENTRIES = ['', '/operators', '/testnet', '/testing', '/remote', '/remote/server', '/prometheus'] as const
const RESOLUTIONS = [
  { name: 'node10', module: 'es2022', moduleResolution: 'node10' },
  { name: 'node16', module: 'node16', moduleResolution: 'node16' },
  { name: 'nodenext', module: 'nodenext', moduleResolution: 'nodenext' },
  { name: 'bundler', module: 'esnext', moduleResolution: 'bundler' }
] as const
const NODE_BUILTINS = new Set(require('module').builtinModules as string[])

jest.setTimeout(300_000)

let tmp: string
let app: string
let tarball: string
const blocks = extractBlocks(ROOT)

async function sh(cmd: string, args: string[], cwd = app, env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 180_000
    })
    return stdout
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`)
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-consumer-'))
  app = path.join(tmp, 'app')
  fs.mkdirSync(app)
  // What `prepack` does on `npm pack`, then the pack itself (quiet, so its JSON is all of stdout).
  await sh('npm', ['run', 'build'], ROOT)
  const packed = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT)
  tarball = path.join(tmp, (JSON.parse(packed) as Array<{ filename: string }>)[0].filename)
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>
    overrides?: Record<string, string>
  }
  const dev = pkg.devDependencies
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify(
      {
        name: 'consumer',
        private: true,
        dependencies: {
          '@basestore/networker': `file:${tarball}`,
          corestore: dev.corestore,
          rxjs: dev.rxjs,
          // The optional peer dependency of the /prometheus entry.
          'prom-client': dev['prom-client']
        },
        devDependencies: {
          '@types/node': dev['@types/node'],
          '@types/jest': dev['@types/jest'],
          'rxjs-marbles': dev['rxjs-marbles'],
          // docs/testing.md's jest-marbles example runs as one of the jest blocks.
          'jest-marbles': dev['jest-marbles'],
          typescript6: 'npm:typescript@^6.0.2'
        },
        // The registry reachable here serves no hypercore-storage for hypercore > 11.37.
        overrides: pkg.overrides
      },
      null,
      2
    )
  )
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'])
  for (const f of fs.readdirSync(FIXTURE)) fs.cpSync(path.join(FIXTURE, f), path.join(app, f), { recursive: true })
  fs.mkdirSync(path.join(app, 'docs'))
  for (const block of blocks) fs.writeFileSync(path.join(app, 'docs', block.file), blockSource(block))
})

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

describe('the packed tarball', () => {
  it('is clean by publint (strict) and arethetypeswrong', async () => {
    expect(await sh(BIN('publint'), ['run', '--strict', tarball], tmp)).toContain('All good!')
    const attw = await sh(BIN('attw'), ['--format', 'json', tarball], tmp)
    const report = JSON.parse(attw) as { analysis: { problems: unknown[] } }
    expect(report.analysis.problems).toEqual([])
  })

  it('ships no module declaration of another package, no test or bench code, no images', async () => {
    const list = (await sh('tar', ['-tzf', tarball], tmp)).trim().split('\n')
    expect(list.filter((f) => /\/(test|bench|examples|types|lib|operators)\//.test(f))).toEqual([])
    expect(list.filter((f) => /\.(png|jpe?g|gif)$/.test(f))).toEqual([])
    expect(list).toContain('package/LICENSE')
    const dts = list.filter((f) => /\.d\.(m|c)?ts$/.test(f))
    expect(dts.length).toBeGreaterThan(0)
    const dist = path.join(app, 'node_modules', '@basestore', 'networker')
    for (const f of dts) {
      const text = fs.readFileSync(path.join(dist, f.replace(/^package\//, '')), 'utf8')
      expect({ f, declares: /declare module ['"]/.test(text), references: /\/\/\/ <reference/.test(text) }).toEqual({
        f,
        declares: false,
        references: false
      })
    }
  })

  it('installs no dependency that dist/ never requires', async () => {
    const dist = path.join(app, 'node_modules', '@basestore', 'networker')
    const meta = JSON.parse(fs.readFileSync(path.join(dist, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
      peerDependencies: Record<string, string>
    }
    const code = fs
      .readdirSync(path.join(dist, 'dist'), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(c|m)?js$/.test(f))
      .map((f) => fs.readFileSync(path.join(dist, 'dist', f), 'utf8'))
      .join('\n')
    const required = new Set<string>()
    for (const m of code.matchAll(/(?:require\(|from )["']([^"'.][^"']*)["']/g)) {
      const spec = m[1]
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]
      if (!NODE_BUILTINS.has(name) && !name.startsWith('node:')) required.add(name)
    }
    expect([...required].sort()).toEqual(
      [...Object.keys(meta.dependencies), ...Object.keys(meta.peerDependencies)].filter((d) => d !== 'corestore').sort()
    )
  })
})

describe('entry points at runtime', () => {
  it('CommonJS require of every entry point loads the CJS build with its named exports', async () => {
    const script = ENTRIES.map(
      (e) => `{
        const id = '@basestore/networker${e}'
        const mod = require(id)
        console.log(JSON.stringify({ id, file: require.resolve(id), names: Object.keys(mod).sort() }))
      }`
    ).join('\n')
    const out = (await sh('node', ['-e', script])).trim().split('\n').map((l) => JSON.parse(l))
    for (const { file } of out) expect(file).toMatch(/\/dist\/[a-z/]+\.js$/)
    expect(out[0].names).toEqual(expect.arrayContaining(['ReactiveNetworker', 'Networker', 'NetworkerError', 'ErrorCodes']))
    expect(out[1].names).toEqual(expect.arrayContaining(['dedupeConnections', 'peerSet', 'detectFlush', 'topicState']))
    expect(out[2].names).toEqual(expect.arrayContaining(['createLocalNetwork', 'loopbackNode']))
    expect(out[3].names).toEqual(expect.arrayContaining(['createVirtualNetworker', 'makePeer', 'makeTopicState', 'makeTopics']))
    expect(out[4].names).toEqual(expect.arrayContaining(['connectNetworker', 'toRemoteStreams']))
    expect(out[5].names).toEqual(expect.arrayContaining(['serveNetworker']))
    expect(out[6].names).toEqual(expect.arrayContaining(['registerPrometheus', 'PROMETHEUS_PREFIX']))
  })

  it('ESM import (named) of every entry point loads the ESM build', async () => {
    const script = ENTRIES.map(
      (e, i) => `import * as m${i} from '@basestore/networker${e}'
        console.log(JSON.stringify({ file: import.meta.resolve('@basestore/networker${e}'), names: Object.keys(m${i}).sort() }))`
    ).join('\n')
    const named = `import { ReactiveNetworker, Networker, NetworkerError } from '@basestore/networker'
      import { dedupeConnections } from '@basestore/networker/operators'
      import { createLocalNetwork } from '@basestore/networker/testnet'
      import { createVirtualNetworker } from '@basestore/networker/testing'
      if (![ReactiveNetworker, Networker, NetworkerError, dedupeConnections, createLocalNetwork, createVirtualNetworker].every((f) => typeof f === 'function')) throw new Error('a named import is missing')`
    fs.writeFileSync(path.join(app, 'esm-check.mjs'), `${named}\n${script}\n`)
    const out = (await sh('node', ['esm-check.mjs'])).trim().split('\n').map((l) => JSON.parse(l))
    for (const { file } of out) expect(file).toMatch(/\/dist\/[a-z/]+\.mjs$/)
    expect(out[0].names).toEqual(expect.arrayContaining(['ReactiveNetworker', 'Networker']))
  })

  it('one NetworkerError class per format across entry points (shared chunks, not copies)', async () => {
    const cjs = await sh('node', [
      '-e',
      `const { NetworkerError } = require('@basestore/networker')
       const { makeTopicState } = require('@basestore/networker/testing')
       try { makeTopicState('nope') } catch (err) { console.log(err instanceof NetworkerError, err.code) }`
    ])
    expect(cjs.trim()).toBe('true ERR_INVALID_KEY')
  })
})

describe('TypeScript strict, no skipLibCheck', () => {
  // jest-marbles 3.1's typings augment jest's Matchers with a constraint @types/jest 29 does not
  // meet (TS2344 inside @types/jest): a project using it needs skipLibCheck, whatever we ship.
  // Its blocks compile on their own below, with skipLibCheck.
  const usesJestMarbles = (b: { code: string }) => /from 'jest-marbles'/.test(b.code)
  const docFiles = () => blocks.filter((b) => !usesJestMarbles(b)).map((b) => `docs/${b.file}`)

  function writeConfig(name: string, compilerOptions: Record<string, unknown>, files: string[]): string {
    const file = `tsconfig.${name}.json`
    fs.writeFileSync(
      path.join(app, file),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          target: 'es2022',
          lib: ['es2022'],
          esModuleInterop: true,
          types: ['node', 'jest'],
          ...compilerOptions
        },
        files
      })
    )
    return file
  }

  for (const res of RESOLUTIONS) {
    it(`every README and docs block, the marble test and the bundle entry compile under ${res.moduleResolution} (TypeScript 5.9 and 6)`, async () => {
      const config = writeConfig(
        res.name,
        { module: res.module, moduleResolution: res.moduleResolution },
        [...docFiles(), 'marbles.ts', 'browser-entry.ts']
      )
      // TypeScript 6 deprecates node10 resolution: its users must say they know.
      const config6 =
        res.name === 'node10'
          ? writeConfig(`${res.name}-ts6`, { module: res.module, moduleResolution: res.moduleResolution, ignoreDeprecations: '6.0' }, [
              ...docFiles(),
              'marbles.ts',
              'browser-entry.ts'
            ])
          : config
      await Promise.all([
        sh('node', [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config]),
        sh('node', [path.join(app, 'node_modules', 'typescript6', 'bin', 'tsc'), '-p', config6])
      ])
    })
  }

  it('the declarations need no interop flag: node10 + commonjs without esModuleInterop or allowSyntheticDefaultImports (TypeScript 5.9 and 6)', async () => {
    // What `tsc --strict --module commonjs` or an old project compiles with. Only our
    // declarations are on trial: files of named imports (every entry point, the marble test, the
    // bundle entry) and the doc blocks that default-import nothing (a default import of a CJS
    // module in the user's own code needs the flag whatever we ship; `.mts` blocks are ES modules
    // with top-level await, which CommonJS output cannot have).
    const noDefaultImport = blocks
      .filter((b) => !b.file.endsWith('.mts') && !usesJestMarbles(b) && !/^import\s+(?!type\b)[\w$]+\s*(,|from\b)/m.test(b.code))
      .map((b) => `docs/${b.file}`)
    const files = ['every-entry.ts', 'marbles.ts', 'browser-entry.ts', ...noDefaultImport]
    // No shipped declaration default-imports another package (names only: `import { State } from …`).
    const dist = path.join(app, 'node_modules', '@basestore', 'networker', 'dist')
    const defaultImports = fs
      .readdirSync(dist, { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.d\.(m|c)?ts$/.test(f))
      .flatMap((f) => [...fs.readFileSync(path.join(dist, f), 'utf8').matchAll(/^import\s+(?!type\b)[\w$]+\s*(?:,[^;]*)?from\s+['"]([^'"./][^'"]*)['"]/gm)].map((m) => `${f}: ${m[1]}`))
    expect(defaultImports).toEqual([])
    const options = { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: false, allowSyntheticDefaultImports: false }
    const config = writeConfig('node10-no-interop', options, files)
    // TypeScript 6 deprecates node10 resolution and these two flags set to false: its users must say they know.
    const config6 = writeConfig('node10-no-interop-ts6', { ...options, ignoreDeprecations: '6.0' }, files)
    expect(noDefaultImport.length).toBeGreaterThanOrEqual(8)
    await Promise.all([
      sh('node', [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config]),
      sh('node', [path.join(app, 'node_modules', 'typescript6', 'bin', 'tsc'), '-p', config6])
    ])
  })

  it('the jest-marbles blocks compile under strict (with skipLibCheck: jest-marbles 3.1 and @types/jest 29 clash without it)', async () => {
    const files = blocks.filter(usesJestMarbles).map((b) => `docs/${b.file}`)
    expect(files.length).toBeGreaterThanOrEqual(1)
    // The block imports the doc block it tests (./no-peers-alert), which compiles with it.
    const config = writeConfig('jest-marbles', { module: 'commonjs', moduleResolution: 'node10', skipLibCheck: true }, files)
    await sh('node', [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config])
  })

  it('a file using Corestore’s own API (the consumer’s own declaration) beside ours compiles', async () => {
    for (const res of RESOLUTIONS.filter((r) => r.name === 'node16')) {
      const config = writeConfig(`typed-${res.name}`, { module: res.module, moduleResolution: res.moduleResolution }, [
        'typed/corestore.d.ts',
        'typed/corestore-api.ts'
      ])
      await sh('node', [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config])
    }
  })

  it('the doc blocks and docs checker cover every TypeScript block, each with a known mode', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(12)
    expect(blocks.filter((b) => b.mode === 'run').map((b) => b.file)).toEqual(expect.arrayContaining(['quick-start.mts', 'first.ts']))
  })
})

describe('the docs run verbatim', () => {
  for (const block of blocks.filter((b) => b.mode === 'run')) {
    it(`${block.doc}:${block.line} (${block.file}) runs to the end with tsx`, async () => {
      const dir = fs.mkdtempSync(path.join(app, 'run-'))
      fs.copyFileSync(path.join(app, 'docs', block.file), path.join(dir, block.file))
      const out = await sh(BIN('tsx'), [block.file], dir)
      expect(out.length).toBeGreaterThan(0)
    })
  }

  it('the jest blocks pass under jest in the consumer project', async () => {
    const jestBlocks = blocks.filter((b) => b.mode === 'jest')
    expect(jestBlocks.length).toBeGreaterThan(0)
    fs.writeFileSync(
      path.join(app, 'jest.config.json'),
      JSON.stringify({
        rootDir: app,
        testEnvironment: 'node',
        testMatch: ['<rootDir>/docs/*.spec.ts', '<rootDir>/docs/*.test.ts'],
        transform: { '^.+\\.ts$': [require.resolve('ts-jest'), { tsconfig: { esModuleInterop: true, module: 'commonjs' }, diagnostics: false }] }
      })
    )
    const out = await sh(process.execPath, [BIN('jest'), '-c', 'jest.config.json', '--ci', '--json', '--outputFile', 'jest.json'], app).catch(
      (err: Error) => err.message
    )
    const result = JSON.parse(fs.readFileSync(path.join(app, 'jest.json'), 'utf8')) as {
      numPassedTests: number
      numFailedTests: number
      numPassedTestSuites: number
    }
    expect({ failed: result.numFailedTests, out: result.numFailedTests > 0 ? out : '' }).toEqual({ failed: 0, out: '' })
    // Every jest block is a file of its own, and each ran and passed.
    expect(result.numPassedTestSuites).toBe(jestBlocks.length)
    expect(result.numPassedTests).toBeGreaterThanOrEqual(jestBlocks.length)
  })

  it('the marble test written with rxjs-marbles runs against /testing with no cast', async () => {
    expect(await sh(BIN('tsx'), ['marbles.ts'])).toContain('marbles ok')
  })
})

describe('in the browser', () => {
  it('/operators, /testing and /remote bundle for the browser with no Node built-in, and run in Chromium', async () => {
    const result = await build({
      entryPoints: [path.join(app, 'browser-entry.ts')],
      absWorkingDir: app,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent'
    })
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.filter((i) => NODE_BUILTINS.has(i.replace(/^node:/, '')))).toEqual([])
    // The consumer's single rxjs and our ESM build: nothing from a CJS copy.
    expect(inputs.filter((i) => i.includes('@basestore/networker/dist/') && !i.endsWith('.mjs'))).toEqual([])
    expect(inputs.filter((i) => i.includes('node_modules/rxjs/dist/cjs'))).toEqual([])
    const code = result.outputFiles[0].text
    const browser = await chromium.launch({ executablePath: await chromiumPath(), args: [...CHROMIUM_ARGS] })
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      await page.setContent('<!doctype html><title>consumer</title>')
      await page.addScriptTag({ content: code, type: 'module' })
      await page.waitForFunction('Array.isArray(globalThis.results)', null, { timeout: 10_000 }).catch(() => undefined)
      expect(errors).toEqual([])
      expect(await page.evaluate('globalThis.results')).toEqual(['virtual networker', 'operators', 'remote client', 'topic state'])
    } finally {
      await browser.close()
    }
  })
})
