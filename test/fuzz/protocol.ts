/**
 * What the fuzz engine (parent) and the victim process (test/fixtures/fuzz-victim.ts) say to each
 * other: one JSON object per line, requests on the child's stdin, replies and events on its
 * stdout. Types only, shared by both sides.
 */

/** How the victim is set up (the fixture's last argument, as JSON). */
export interface VictimConfig {
  /** The victim's `timeout` option (ms; 0: unset, the default). */
  readonly timeout: number
  /** The victim's `maxMessageSize`. */
  readonly maxMessageSize: number
  /** The victim broadcasts `{ v: n }` on the `fuzz` extension every this many ms (0: never). */
  readonly broadcastMs: number
  /**
   * Registers the `canary` extension, whose handler leaves a rejected promise unhandled when it
   * receives the bytes `die`: a crash on purpose, to show that the engine sees one.
   */
  readonly canary: boolean
}

/** Extension names the victim registers, and their encodings. */
export const FUZZ_EXTENSION = 'fuzz' // json: the honest peer's numbered messages go here
export const FUZZ_BINARY_EXTENSION = 'fuzz-bin' // binary
export const CANARY_EXTENSION = 'canary' // binary, only with `canary`
/** The bytes that make the canary crash the victim. */
export const CANARY_TRIGGER = 'die'

export type VictimRequest =
  | { readonly id: number; readonly cmd: 'ping' }
  /** The honest peer's key: messages from it are counted and checked in order. */
  | { readonly id: number; readonly cmd: 'honest'; readonly key: string }
  /** What the victim has counted of the honest peer's messages so far. */
  | { readonly id: number; readonly cmd: 'count' }
  /** A sequence starts: collect garbage, note the heap, start watching collections and errors. */
  | { readonly id: number; readonly cmd: 'begin' }
  /** The heap after a full collection, now (the hostile connection still open). */
  | { readonly id: number; readonly cmd: 'snapshot' }
  /** How many raw connections are open now. */
  | { readonly id: number; readonly cmd: 'connections' }
  /** The sequence ended: its figures. */
  | { readonly id: number; readonly cmd: 'end' }

/** Messages received from the honest peer, as the victim counted them. */
export interface HonestCount {
  /** The next number expected (= messages delivered in order so far). */
  readonly next: number
  /** Messages whose number was below `next` (delivered twice). */
  readonly duplicates: number
  /** Messages whose number was above `next` (some were skipped). */
  readonly skipped: number
  /** The first violation seen, if any. */
  readonly firstViolation: string | null
}

/** An error on the victim's `errors$` that is not a `NetworkerError` with a known code. */
export interface UncodedError {
  readonly name: string
  readonly code: unknown
  readonly message: string
  readonly stack: string
}

export interface SequenceFigures {
  /** Heap used after a full collection when the sequence began. */
  readonly baseline: number
  /** The highest heap left after a full (mark-compact) collection during the sequence, V8's own or ours. */
  readonly peak: number
  /** Heap used after a full collection at the end (the hostile connection closed). */
  readonly after: number
  /** `errors$` by code during the sequence. */
  readonly errors: Record<string, number>
  readonly uncoded: readonly UncodedError[]
  /** Process warnings during the sequence (`MaxListenersExceededWarning`, …). */
  readonly warnings: readonly string[]
  /** The longest event-loop delay seen during the sequence (ms; informative). */
  readonly maxLoopDelayMs: number
  readonly honest: HonestCount
}

export type VictimReply =
  | { readonly id: number; readonly ok: true }
  | { readonly id: number; readonly heap: number }
  | { readonly id: number; readonly open: number }
  | { readonly id: number; readonly figures: SequenceFigures }
  | { readonly id: number; readonly honest: HonestCount }

/** Lines the victim prints on its own. */
export type VictimEvent =
  | { readonly ready: true; readonly publicKey: string; readonly pid: number }
  /** From `uncaughtExceptionMonitor`: the process is about to die of it (it installs no handler). */
  | { readonly crash: { readonly origin: string; readonly name: string; readonly message: string; readonly stack: string } }
