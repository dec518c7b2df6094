/**
 * Extracts every TypeScript block of README.md and docs/*.md, as a consumer project would
 * paste them. A block may be preceded by a directive on the line right above its fence:
 *
 *     <!-- check: <file name>[, run | jest][, given <name> …] -->
 *
 * - the file name it is saved under (a `.mts` name for a block with top-level `await`, the name
 *   another block imports it by); without a directive it is `<doc>-<n>.ts`;
 * - `run`: a whole program, run with tsx; `jest`: a test file, run with jest;
 * - `given`: names the block uses without defining (a fragment of a longer program); each is
 *   declared, typed from the package, in a header above the block's verbatim text.
 */
import fs from 'fs'
import path from 'path'

export interface DocBlock {
  readonly doc: string
  readonly line: number
  readonly file: string
  readonly mode: 'compile' | 'run' | 'jest'
  readonly given: readonly string[]
  readonly code: string
}

/** What a `given` name is declared as. */
export const GIVEN: Readonly<Record<string, string>> = {
  networker: "declare const networker: import('@basestore/networker').ReactiveNetworker",
  chat: "declare const chat: import('@basestore/networker').Extension<string>",
  store: "declare const store: import('@basestore/networker').CorestoreLike",
  core: 'declare const core: { readonly discoveryKey: Uint8Array }',
  hypercore: "declare const hypercore: import('@basestore/networker').HypercoreLike",
  topicsToJoin$: "declare const topicsToJoin$: import('rxjs').Observable<string>",
  destroy$: "declare const destroy$: import('rxjs').Observable<void>"
}

const DIRECTIVE = /^<!--\s*check:\s*(.+?)\s*-->$/

export function extractBlocks(root: string): DocBlock[] {
  const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
  const blocks: DocBlock[] = []
  for (const doc of docs.sort()) {
    const lines = fs.readFileSync(path.join(root, doc), 'utf8').split('\n')
    let n = 0
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].trim() !== '```ts') continue
      const end = lines.findIndex((l, j) => j > i && l.trim() === '```')
      if (end === -1) throw new Error(`${doc}:${i + 1}: unterminated code block`)
      n++
      const directive = i > 0 ? DIRECTIVE.exec(lines[i - 1].trim()) : null
      const [name, ...rest] = directive ? directive[1].split(',').map((s) => s.trim()) : []
      const mode = rest.includes('run') ? 'run' : rest.includes('jest') ? 'jest' : 'compile'
      const givenPart = rest.find((r) => r.startsWith('given '))
      const given = givenPart ? givenPart.slice('given '.length).split(/\s+/).filter(Boolean) : []
      for (const g of given) if (!(g in GIVEN)) throw new Error(`${doc}:${i}: unknown given name ${g}`)
      blocks.push({
        doc,
        line: i + 1,
        file: name ?? `${path.basename(doc, '.md').toLowerCase()}-${n}.ts`,
        mode,
        given,
        code: lines.slice(i + 1, end).join('\n') + '\n'
      })
      i = end
    }
  }
  const seen = new Set<string>()
  for (const b of blocks) {
    if (seen.has(b.file)) throw new Error(`two doc blocks are both saved as ${b.file}`)
    seen.add(b.file)
  }
  return blocks
}

/** The file a block is saved as: its `given` declarations, then its text verbatim. */
export function blockSource(block: DocBlock): string {
  const header = block.given.map((g) => GIVEN[g])
  if (header.length > 0) header.push('export {}', `// ↑ given; ↓ verbatim from ${block.doc}:${block.line}`)
  return [...header, block.code].join('\n')
}
