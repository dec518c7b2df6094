/**
 * A fuzzing campaign: fast-check generates sequences (test/fuzz/actions.ts) and the engine runs
 * each against the victim, until the search time is up. A sequence that fails is shrunk by
 * fast-check (each smaller candidate is run against a live victim, restarted if needed) for at
 * most `shrinkMs`, then the search goes on with the next seed: one campaign finds every
 * distinct failure it can, grouped by signature, each with the smallest sequence seen.
 */
import fc from 'fast-check'
import { ModelOptions, Sequence, describeSequence, sequenceArb, sequenceToJson } from './actions'
import type { FailureKind, FuzzEngine, SequenceOutcome } from './engine'

export interface CampaignOptions {
  /** ms of searching (new sequences). */
  readonly searchMs: number
  /** ms of shrinking for each new kind of failure. */
  readonly shrinkMs: number
  /** The first fast-check seed (each check after it takes the next). Default: random. */
  readonly seed?: number
  /** Sequences per fast-check run (a new seed after each). Default 5. */
  readonly runsPerCheck?: number
  readonly model?: ModelOptions
  /** After every sequence (progress). */
  readonly onSequence?: (outcome: SequenceOutcome, seq: Sequence) => void
  /** When a failure is first seen. */
  readonly onFinding?: (finding: Finding) => void
}

export interface Finding {
  readonly signature: string
  readonly kind: FailureKind
  readonly detail: string
  /** When it was first seen: after this many sequences, hostile frames and ms of campaign. */
  readonly foundAfter: { readonly sequences: number; readonly frames: number; readonly ms: number }
  readonly seed: number
  occurrences: number
  /** The smallest failing sequence seen (fewest actions, then fewest frames). */
  smallest: Sequence
  smallestFrames: number
  smallestDetail: string
  shrinkRuns: number
}

export interface CampaignReport {
  readonly seed: number
  readonly ms: number
  readonly sequences: number
  readonly findings: readonly Finding[]
}

/** A finding as text: what failed, the smallest sequence, the detail (stack). */
export function formatFinding(f: Finding): string {
  return [
    `${f.signature} (seen ${f.occurrences}×, first after ${f.foundAfter.sequences} sequences / ${f.foundAfter.frames} frames / ${(f.foundAfter.ms / 1000).toFixed(1)} s, seed ${f.seed})`,
    `  smallest sequence (${f.smallest.length} actions, ${f.smallestFrames} frames):`,
    ...describeSequence(f.smallest).map((line) => `    ${line}`),
    ...f.smallestDetail.split('\n').slice(0, 14).map((line) => `  | ${line}`)
  ].join('\n')
}

export function findingToJson(f: Finding): unknown {
  return { ...f, smallest: describeSequence(f.smallest), smallestJson: sequenceToJson(f.smallest) }
}

export async function runCampaign(engine: FuzzEngine, opts: CampaignOptions): Promise<CampaignReport> {
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fffffff)
  const started = Date.now()
  const searchEnd = started + opts.searchMs
  const findings = new Map<string, Finding>()
  const startFrames = engine.totals.hostile.frames
  const startSequences = engine.totals.sequences
  let checkSeed = seed
  /** Per fast-check run: the failure being shrunk, and until when. */
  let target: { signature: string; until: number } | null = null

  const note = (outcome: SequenceOutcome, seq: Sequence): void => {
    opts.onSequence?.(outcome, seq)
    for (const failure of outcome.failures) {
      const known = findings.get(failure.signature)
      if (known === undefined) {
        const finding: Finding = {
          signature: failure.signature,
          kind: failure.kind,
          detail: failure.detail,
          foundAfter: {
            sequences: engine.totals.sequences - startSequences,
            frames: engine.totals.hostile.frames - startFrames,
            ms: Date.now() - started
          },
          seed: checkSeed,
          occurrences: 1,
          smallest: seq,
          smallestFrames: outcome.frames,
          smallestDetail: failure.detail,
          shrinkRuns: 0
        }
        findings.set(failure.signature, finding)
        opts.onFinding?.(finding)
        continue
      }
      known.occurrences++
      if (seq.length < known.smallest.length || (seq.length === known.smallest.length && outcome.frames < known.smallestFrames)) {
        known.smallest = seq
        known.smallestFrames = outcome.frames
        known.smallestDetail = failure.detail
      }
    }
  }

  const property = fc.asyncProperty(sequenceArb(opts.model), async (seq) => {
    if (target === null && Date.now() > searchEnd) return true // out of time: let the run end
    if (target !== null && Date.now() > target.until) return true // shrinking time is up
    const outcome = await engine.run(seq)
    const fresh = outcome.failures.find((f) => !findings.has(f.signature))
    note(outcome, seq)
    if (outcome.ok) return true
    if (target === null) {
      // Shrink a failure not seen before; one seen before already had its shrinking time.
      target = { signature: (fresh ?? outcome.failures[0]).signature, until: fresh === undefined ? 0 : Date.now() + opts.shrinkMs }
    } else {
      const signature = target.signature
      if (!outcome.failures.some((f) => f.signature === signature)) return true // another failure (noted), not the one shrunk
      const finding = findings.get(signature)
      if (finding !== undefined) finding.shrinkRuns++
    }
    throw new Error(outcome.failures.map((f) => `${f.signature}\n${f.detail}`).join('\n\n'))
  })

  while (Date.now() < searchEnd) {
    target = null
    await fc.check(property, { seed: checkSeed, numRuns: opts.runsPerCheck ?? 5 })
    checkSeed++
  }
  return { seed, ms: Date.now() - started, sequences: engine.totals.sequences - startSequences, findings: [...findings.values()] }
}
