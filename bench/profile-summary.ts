/**
 * Summarizes a V8 `.cpuprofile` (from `npm run bench:profile`) by where the time goes:
 * `npm run bench:profile:summary -- <file.cpuprofile> [--top=N]`.
 *
 * Prints self time by module (our `lib/` and `operators/` files, each package in node_modules,
 * Node internals, GC, idle), then the functions of our layer by self and by inclusive time
 * (a function counts once per sample however deep it recurses). Line numbers are those of the
 * JavaScript ts-node ran (type-only lines removed), so look functions up by name.
 */
import fs from 'fs'
import path from 'path'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/** Which module a frame belongs to. */
export function moduleOf(frame: CallFrame, root: string): string {
  const { url, functionName } = frame
  if (url === '') {
    if (functionName === '(garbage collector)' || functionName === '(idle)' || functionName === '(program)') return functionName
    return '(native)'
  }
  const file = url.startsWith('file://') ? url.slice('file://'.length) : url
  if (file.startsWith('node:')) return 'node internals'
  const nm = file.lastIndexOf('/node_modules/')
  if (nm !== -1) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  const rel = path.relative(root, file)
  return rel.startsWith('..') ? file : rel
}

/** True for frames of our layer. */
export function isOurs(module: string): boolean {
  return module.startsWith('lib/') || module.startsWith('operators/')
}

export interface Summary {
  totalMs: number
  byModule: Array<[string, number]>
  oursSelf: Array<[string, number]>
  oursInclusive: Array<[string, number]>
  /** ms of samples with any frame of our layer on the stack. */
  underOurs: number
}

export function summarize(profile: CpuProfile, root: string): Summary {
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const moduleCache = new Map<number, string>()
  const mod = (id: number): string => {
    let m = moduleCache.get(id)
    if (m === undefined) {
      m = moduleOf((byId.get(id) as ProfileNode).callFrame, root)
      moduleCache.set(id, m)
    }
    return m
  }
  // A module's top-level code (the wrapper at line 0, column 0) runs at load time: not our layer at work.
  const ours = (id: number): boolean => {
    const { callFrame } = byId.get(id) as ProfileNode
    if (callFrame.functionName === '' && callFrame.lineNumber === 0 && callFrame.columnNumber === 0) return false
    return isOurs(mod(id))
  }
  const label = (id: number): string => {
    const { callFrame } = byId.get(id) as ProfileNode
    return `${callFrame.functionName || '(anonymous)'} ${mod(id)}:${callFrame.lineNumber + 1}`
  }
  const byModule = new Map<string, number>()
  const oursSelf = new Map<string, number>()
  const oursInclusive = new Map<string, number>()
  let total = 0
  let underOurs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000
    const id = profile.samples[i]
    total += ms
    const m = mod(id)
    byModule.set(m, (byModule.get(m) ?? 0) + ms)
    if (ours(id)) oursSelf.set(label(id), (oursSelf.get(label(id)) ?? 0) + ms)
    const seen = new Set<string>()
    let onStack = false
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      if (!ours(at)) continue
      onStack = true
      const key = label(at)
      if (seen.has(key)) continue
      seen.add(key)
      oursInclusive.set(key, (oursInclusive.get(key) ?? 0) + ms)
    }
    if (onStack) underOurs += ms
  }
  const sorted = (map: Map<string, number>): Array<[string, number]> => [...map].sort((a, b) => b[1] - a[1])
  return { totalMs: total, byModule: sorted(byModule), oursSelf: sorted(oursSelf), oursInclusive: sorted(oursInclusive), underOurs }
}

function main(): void {
  const files = process.argv.slice(2).filter((a) => !a.startsWith('--'))
  const topArg = process.argv.find((a) => a.startsWith('--top='))
  const top = topArg ? Number(topArg.slice('--top='.length)) : 25
  if (files.length === 0) {
    console.error('usage: npm run bench:profile:summary -- <file.cpuprofile> [--top=N]')
    process.exit(2)
  }
  const root = path.resolve(__dirname, '..')
  for (const file of files) {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
    const s = summarize(profile, root)
    const pct = (ms: number): string => `${((100 * ms) / s.totalMs).toFixed(1).padStart(5)}%`
    const row = ([name, ms]: [string, number]): string => `  ${ms.toFixed(0).padStart(7)} ms ${pct(ms)}  ${name}`
    console.log(`${file}: ${s.totalMs.toFixed(0)} ms sampled`)
    console.log(`samples with our layer (lib/, operators/) on the stack: ${s.underOurs.toFixed(0)} ms (${pct(s.underOurs).trim()})`)
    console.log('self time by module:')
    for (const entry of s.byModule.slice(0, top)) console.log(row(entry))
    console.log('our functions, self time:')
    for (const entry of s.oursSelf.slice(0, top)) console.log(row(entry))
    console.log('our functions, inclusive time:')
    for (const entry of s.oursInclusive.slice(0, top)) console.log(row(entry))
  }
}

if (require.main === module) main()
