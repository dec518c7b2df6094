/**
 * The docs followed as a new user would, from an empty directory: the README's Install, then
 * getting-started's first program, each `sh` block marked `<!-- walkthrough: … -->` run verbatim
 * in bash, in doc order. One substitution: `git clone <the repository>` copies this working tree
 * instead (tracked and untracked files, not ignored ones, committed in a fresh git repository), so
 * the test needs no network for the clone and checks the code as it is now. npm runs with
 * `prefer-offline`: packages come from the npm cache that `npm ci` of this repository filled, and
 * from the registry only if missing there.
 *
 * Also: the repository address is the one package.json names, everywhere the docs clone it; the
 * dashboard's documented result is what `startDashboard` resolves to.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { execFile } from 'child_process'
import { promisify } from 'util'
import { ReactiveNetworker } from '../lib'
import { startDashboard } from '../examples/dashboard/server'
import { createHarness, Harness } from './kit'

const run = promisify(execFile)
const ROOT = path.join(__dirname, '..')
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string
  version: string
  repository?: { type?: string; url?: string } | string
}
const DOCS = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const read = (doc: string): string => fs.readFileSync(path.join(ROOT, doc), 'utf8')

/** package.json's repository as a browsable https address. */
function repositoryAddress(): string {
  const url = typeof PKG.repository === 'string' ? PKG.repository : PKG.repository?.url
  if (url === undefined) throw new Error('package.json names no repository')
  return url.replace(/^git\+/, '').replace(/\.git$/, '')
}

/** The `sh` blocks of a doc marked `<!-- walkthrough: <name> -->` on the line above their fence. */
function walkthrough(doc: string): Array<{ name: string; script: string }> {
  const lines = read(doc).split('\n')
  const found: Array<{ name: string; script: string }> = []
  for (let i = 1; i < lines.length; i++) {
    const mark = /^<!--\s*walkthrough:\s*(.+?)\s*-->$/.exec(lines[i - 1].trim())
    if (mark === null || lines[i].trim() !== '```sh') continue
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```')
    found.push({ name: mark[1], script: lines.slice(i + 1, end).join('\n') })
  }
  return found
}

/** A ```ts block by the file name of its `<!-- check: … -->` directive. */
function checkedBlock(doc: string, file: string): string {
  const lines = read(doc).split('\n')
  const at = lines.findIndex((l) => new RegExp(`^<!--\\s*check:\\s*${file.replace('.', '\\.')}\\b`).test(l.trim()))
  if (at === -1) throw new Error(`${doc} has no block checked as ${file}`)
  const end = lines.findIndex((l, j) => j > at + 1 && l.trim() === '```')
  return lines.slice(at + 2, end).join('\n') + '\n'
}

async function bash(script: string, cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await run('bash', ['-euo', 'pipefail', '-c', script], {
      cwd,
      env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 240_000
    })
    return `${stdout}\n${stderr}`
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    throw new Error(`walkthrough step failed in ${cwd}:\n${script}\n---\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`)
  }
}

describe('the repository address', () => {
  it('package.json names the repository, and every clone in the docs uses that address (no placeholder)', () => {
    const address = repositoryAddress()
    expect(address).toBe('https://github.com/basestore/networker')
    const clones = DOCS.flatMap((doc) => [...read(doc).matchAll(/git clone (\S+)/g)].map((m) => ({ doc, url: m[1] })))
    expect(clones.length).toBeGreaterThanOrEqual(2)
    expect(clones.filter((c) => c.url !== address)).toEqual([])
    expect(DOCS.filter((doc) => /<this repository>/.test(read(doc)))).toEqual([])
  })
})

describe('from an empty directory', () => {
  let tmp: string

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'networker-walkthrough-'))
  })

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  })

  it('the README’s Install leaves the clone clean and makes your-app with the package installed; getting-started’s first program then runs there', async () => {
    const address = repositoryAddress()
    const [install, ...rest] = walkthrough('README.md')
    expect(install?.name).toBe('install')
    expect(rest).toEqual([])
    const clone = new RegExp(`^git clone ${address.replace(/[.]/g, '\\.')} (\\S+)$`, 'm')
    const target = clone.exec(install.script)?.[1]
    expect(target).toBeDefined()
    // The clone, as a copy of this working tree in a fresh repository.
    const copy = [
      `mkdir ${target}`,
      `(cd ${JSON.stringify(ROOT)} && git ls-files -co --exclude-standard -z) | (cd ${JSON.stringify(ROOT)} && xargs -0 cp --parents -t "$OLDPWD/${target}")`,
      `(cd ${target} && git init -q && git add -A && git -c user.name=walkthrough -c user.email=walkthrough@localhost commit -qm clone)`
    ].join('\n')
    await bash(install.script.replace(clone, copy), tmp)

    // Nothing left in the clone that git does not know (the README once packed into it).
    expect(await bash('git status --porcelain', path.join(tmp, target!))).toEqual('\n')
    const app = path.join(tmp, 'your-app')
    const appPkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    expect(Object.keys(appPkg.dependencies).sort()).toEqual([PKG.name, 'corestore', 'rxjs'].sort())
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', PKG.name, 'package.json'), 'utf8')) as { version: string }
    expect(installed.version).toBe(PKG.version)

    // getting-started, section 2: save first.ts in your-app, then its commands.
    const steps = walkthrough('docs/getting-started.md')
    expect(steps.map((s) => s.name)).toEqual(['first program'])
    fs.writeFileSync(path.join(app, 'first.ts'), checkedBlock('docs/getting-started.md', 'first.ts'))
    const out = await bash(steps[0].script, app)
    expect(out).toContain('bob read: second note')
    expect(out).toContain('bob got hello bob')
  }, 600_000)
})

describe('the dashboard example', () => {
  let h: Harness

  beforeEach(async () => {
    h = await createHarness()
  })

  afterEach(async () => {
    await h.cleanup()
  })

  it('startDashboard resolves to exactly what getting-started says it does', async () => {
    const said = /it resolves to `\{ ([^`]+) \}`/.exec(read('docs/getting-started.md'))
    expect(said).not.toBeNull()
    const documented = said![1].split(',').map((s) => s.trim().replace(/\(\)$/, ''))
    const networker: ReactiveNetworker = h.networker()
    const dashboard = await startDashboard(networker)
    try {
      expect(Object.keys(dashboard).sort()).toEqual(documented.sort())
      expect(typeof dashboard.close).toBe('function')
      expect([typeof dashboard.url, typeof dashboard.clients, typeof dashboard.subscriptions]).toEqual(['string', 'number', 'number'])
    } finally {
      await dashboard.close()
    }
  })
})
