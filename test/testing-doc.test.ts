/**
 * docs/testing.md says which runner each example is for, and its jest-marbles examples use only
 * what jest-marbles 3 can read. (The consumer suite runs every `jest` block of it, jest-marbles
 * ones included, in a project that installed the packed tarball.)
 */
import fs from 'fs'
import path from 'path'

const DOC = path.join(__dirname, '..', 'docs', 'testing.md')

interface Block {
  readonly line: number
  readonly code: string
}

function blocks(): Block[] {
  const lines = fs.readFileSync(DOC, 'utf8').split('\n')
  const found: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```')
    found.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return found
}

/** The runner a block's imports make it for, or null for a block that runs nothing. */
function runnerOf(code: string): 'jest-marbles' | 'TestScheduler.run' | 'rxjs-marbles' | 'jest' | null {
  if (/from 'jest-marbles'/.test(code)) return 'jest-marbles'
  if (/from 'rxjs-marbles/.test(code)) return 'rxjs-marbles'
  if (/from 'rxjs\/testing'/.test(code)) return 'TestScheduler.run'
  if (/^\s*(it|test)\(/m.test(code)) return 'jest'
  return null
}

const all = blocks()
const runnable = all.filter((b) => runnerOf(b.code) !== null)

it('every runnable example names its runner in its first line, and the runner it names is the one it imports', () => {
  expect(runnable.length).toBeGreaterThanOrEqual(4)
  const named = runnable.map((b) => ({
    line: b.line,
    runner: runnerOf(b.code),
    first: /^\/\/ Runner: ([\w.-]+)/.exec(b.code.split('\n')[0])?.[1] ?? null
  }))
  expect(named).toEqual(named.map((n) => ({ ...n, first: n.runner })))
})

it('there is a jest-marbles example, and it uses frames only: no time progression, and its timers on jest-marbles’ scheduler', () => {
  const jm = runnable.filter((b) => runnerOf(b.code) === 'jest-marbles')
  expect(jm.length).toBeGreaterThanOrEqual(1)
  for (const b of jm) {
    // Marble strings are the quoted arguments of hot/cold/time and the `marbles:` fields.
    const marbles = [...b.code.matchAll(/(?:marbles: |hot\(|cold\(|time\()'([^']*)'/g)].map((m) => m[1])
    expect(marbles.length).toBeGreaterThan(0)
    expect({ line: b.line, timeProgression: marbles.filter((m) => /\d+(\.\d+)?(ms|s|m)\b/.test(m) || / /.test(m)) }).toEqual({
      line: b.line,
      timeProgression: []
    })
    expect(b.code).toContain('Scheduler.get()')
  }
})

it('the TestScheduler.run examples that use time progression are not labelled for jest-marbles', () => {
  const timed = runnable.filter((b) => /'[^']*\d+(ms|s)\b[^']*'/.test(b.code))
  expect(timed.length).toBeGreaterThanOrEqual(1)
  for (const b of timed) expect({ line: b.line, runner: runnerOf(b.code) }).toEqual({ line: b.line, runner: 'TestScheduler.run' })
})
