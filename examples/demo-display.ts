/**
 * The demo's terminal display. On a TTY: progress bars (cli-progress) for each reader's
 * download, a table of every node's live peer set and topic state, and the last chat lines, all
 * redrawn in place. Anywhere else (a pipe, a CI log): plain timestamped lines, one per change.
 */
import cliProgress from 'cli-progress'
import type { TopicState } from '../lib'

/** What the demo shows; both displays take the same calls. */
export interface Display {
  /** The one-line headline: what the demo is doing now. */
  status(text: string): void
  /**
   * A node's progress in blocks: the writer appending, a reader downloading (with its download
   * rate in bytes per second, from `metrics$`, when known).
   */
  progress(name: string, done: number, total: number, rate?: number): void
  /** A node's peer set (as names) and its topic state. */
  node(name: string, peers: readonly string[], topic: TopicState): void
  /** A chat line that arrived. */
  chat(from: string, to: string, text: string): void
  /** A one-off line (errors, the dashboard URL). */
  log(text: string): void
  /** Leaves the last frame on screen and releases the terminal. */
  stop(): void
}

export interface DisplayOptions {
  /** The first line. */
  title: string
  /** The nodes that get a progress bar, with the verb shown beside it. */
  bars: ReadonlyArray<{ name: string; verb: string }>
  nodes: readonly string[]
  /** How many chat lines stay on screen. Default 3. */
  chatLines?: number
}

const MiB = 1024 * 1024
const NAME_WIDTH = 9
const PEERS_WIDTH = 26

const flag = (on: boolean): string => (on ? '✓' : '·')
const pad = (text: string, width: number): string => (text.length >= width ? text : text + ' '.repeat(width - text.length))

const FLAG_WIDTH = 10

/**
 * Cuts a line to the terminal's width: a wrapped line would take two rows, and the in-place
 * redraw (which counts one row per line) would drift.
 */
function fit(line: string): string {
  const width = Math.max(20, (process.stdout.columns ?? 80) - 1)
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`
}

function topicColumns(topic: TopicState): string {
  return [topic.announce, topic.lookup, topic.joined, topic.flushed].map((on) => pad(flag(on), FLAG_WIDTH)).join('')
}

/** The in-place display: every line is a cli-progress bar, text lines with a text-only format. */
export class TtyDisplay implements Display {
  private readonly multibar: cliProgress.MultiBar
  private readonly statusLine: cliProgress.SingleBar
  private readonly bars = new Map<string, cliProgress.SingleBar>()
  private readonly nodeLines = new Map<string, cliProgress.SingleBar>()
  private readonly chatBars: cliProgress.SingleBar[] = []
  private readonly chats: string[] = []
  private stopped = false

  constructor(
    private readonly blockSize: number,
    opts: DisplayOptions
  ) {
    this.multibar = new cliProgress.MultiBar(
      {
        stream: process.stdout,
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
        barsize: 22,
        fps: 12,
        // Redraw every line each frame: a line logged above the bars shifts them all down one row.
        forceRedraw: true,
        format: (options, params, payload: { name: string; verb: string; mib: string; rate: string }) => {
          const size = options.barsize ?? 22
          const filled = Math.round(params.progress * size)
          const bar = '█'.repeat(filled) + '░'.repeat(size - filled)
          const percent = String(Math.floor(params.progress * 100)).padStart(3)
          const total = String(params.total)
          const done = String(params.value).padStart(total.length)
          const mib = payload.mib.padStart(5)
          const rate = payload.rate === '' ? '' : `  ${payload.rate.padStart(6)} MiB/s`
          return fit(`  ${pad(payload.name, NAME_WIDTH)}${bar} ${percent}%  ${pad(payload.verb, 11)}${done}/${total} blocks  ${mib} MiB${rate}`)
        }
      })
    const text = (initial: string): cliProgress.SingleBar =>
      this.multibar.create(1, 0, { text: initial }, { format: (_o, _p, payload: { text: string }) => fit(payload.text) })

    text(`  ${opts.title}`)
    this.statusLine = text('  starting…')
    text('')
    for (const { name, verb } of opts.bars) {
      this.bars.set(name, this.multibar.create(1, 0, { name, verb, mib: '0.0', rate: '' }))
    }
    text('')
    const headings = ['announce', 'lookup', 'joined', 'flushed'].map((h) => pad(h, FLAG_WIDTH)).join('')
    text(`  ${pad('node', NAME_WIDTH)}${pad('peers$', PEERS_WIDTH)}${headings}`)
    for (const node of opts.nodes) this.nodeLines.set(node, text(`  ${pad(node, NAME_WIDTH)}${pad('–', PEERS_WIDTH)}`))
    text('')
    for (let i = 0; i < (opts.chatLines ?? 3); i++) this.chatBars.push(text(i === 0 ? '  chat     (nothing yet)' : ''))
  }

  status(text: string): void {
    if (this.stopped) return
    this.statusLine.update(0, { text: `  ${text}` })
  }

  progress(name: string, done: number, total: number, rate?: number): void {
    const bar = this.bars.get(name)
    if (bar === undefined || this.stopped) return
    bar.setTotal(total)
    bar.update(done, { mib: ((done * this.blockSize) / MiB).toFixed(1), ...(rate === undefined ? {} : { rate: (rate / MiB).toFixed(1) }) })
  }

  node(name: string, peers: readonly string[], topic: TopicState): void {
    if (this.stopped) return
    const line = `  ${pad(name, NAME_WIDTH)}${pad(peers.join(' ') || '–', PEERS_WIDTH)}${topicColumns(topic)}`
    this.nodeLines.get(name)?.update(0, { text: line })
  }

  chat(from: string, to: string, text: string): void {
    if (this.stopped) return
    this.chats.unshift(`${from} → ${to}: ${text}`)
    this.chats.length = Math.min(this.chats.length, this.chatBars.length)
    this.chatBars.forEach((bar, i) => {
      const line = this.chats[i]
      bar.update(0, { text: line === undefined ? '' : `  ${pad(i === 0 ? 'chat' : '', NAME_WIDTH)}${line}` })
    })
  }

  log(text: string): void {
    if (this.stopped) {
      process.stdout.write(`${fit(text)}\n`)
      return
    }
    this.multibar.log(`${fit(text)}\n`)
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.multibar.update()
    this.multibar.stop()
  }
}

/** Plain lines for logs and pipes: timestamped, one per change, progress in quarter steps. */
export class PlainDisplay implements Display {
  private readonly started = Date.now()
  private readonly verbs: ReadonlyMap<string, string>
  private readonly lastLine = new Map<string, string>()
  private readonly lastQuarter = new Map<string, number>()
  private stopped = false

  constructor(opts: DisplayOptions) {
    this.verbs = new Map(opts.bars.map(({ name, verb }) => [name, verb]))
    this.print(opts.title)
  }

  private print(line: string, always = false): void {
    if (this.stopped && !always) return
    process.stdout.write(`[${((Date.now() - this.started) / 1000).toFixed(2)}s] ${line}\n`)
  }

  /** Prints `line` under `key` unless it is what was printed last for that key. */
  private changed(key: string, line: string): void {
    if (this.lastLine.get(key) === line) return
    this.lastLine.set(key, line)
    this.print(line)
  }

  status(text: string): void {
    this.changed('status', text)
  }

  progress(name: string, done: number, total: number, rate?: number): void {
    const quarter = total === 0 ? 4 : Math.floor((done / total) * 4)
    if ((this.lastQuarter.get(name) ?? -1) >= quarter) return
    this.lastQuarter.set(name, quarter)
    const speed = rate === undefined ? '' : ` at ${(rate / MiB).toFixed(1)} MiB/s`
    this.print(`${name} ${this.verbs.get(name) ?? 'at'} ${done}/${total} blocks (${quarter * 25}%)${speed}`)
  }

  node(name: string, peers: readonly string[], topic: TopicState): void {
    const flags = (['announce', 'lookup', 'joined', 'flushed'] as const).filter((f) => topic[f]).join(' ') || 'not joined'
    this.changed(`node:${name}`, `${name} peers$: [${peers.join(', ')}]  topic$: ${flags}`)
  }

  chat(from: string, to: string, text: string): void {
    this.print(`chat ${from} → ${to}: ${text}`)
  }

  log(text: string): void {
    this.print(text, true)
  }

  stop(): void {
    this.stopped = true
  }
}
