/**
 * The README's Angular service is the file the example builds (examples/angular-dashboard, built
 * and tested in Chromium by .ci/angular): the block after `<!-- file: <path> -->` must equal it.
 */
import fs from 'fs'
import path from 'path'

const ROOT = path.join(__dirname, '..')

test('every README block marked with a file is that file, verbatim', () => {
  const lines = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n')
  const marked: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const match = /^<!-- file: (\S+) -->$/.exec(lines[i].trim())
    if (match === null) continue
    const start = i + 2
    const end = lines.findIndex((line, j) => j >= start && line.trim() === '```')
    expect(lines[i + 1].startsWith('```')).toBe(true)
    const block = lines.slice(start, end).join('\n') + '\n'
    expect(block).toBe(fs.readFileSync(path.join(ROOT, match[1]), 'utf8'))
    marked.push(match[1])
  }
  expect(marked).toContain('examples/angular-dashboard/src/app/networker.service.ts')
})
