import type { SchedulerLike } from 'rxjs'
import type { DiscoverySession, SwarmSource } from './swarm-source'
import { QueuedTimer, TimerQueue } from './timer-queue'

/** Backoff (ms) between lookups of a topic that has no peers yet; the last value repeats. */
export const DEFAULT_RELOOKUP_BACKOFF: readonly number[] = [1000, 2000, 4000, 8000, 15000, 30000, 60000]

/**
 * ms after a join's first discovery before looking again when it found nobody: long enough that
 * a peer joining right after us dials us first (no lookup competes with its join), short enough
 * that two peers joining at the same instant meet well within a quarter second.
 */
const SIMULTANEOUS_RELOOKUP_MS = 50

/** Lookups after a join that run even when the topic already has peers. */
const EAGER_RELOOKUPS = 2

/**
 * A HyperDHT node answers a lookup with at most this many of a topic's announcements, picked at
 * random: once lookups have found this many peers, each lookup is a sample of a larger swarm.
 */
export const DHT_RECORDS_PER_LOOKUP = 20

/**
 * Lookups in a row that must find nobody new before a sampled topic (see
 * `DHT_RECORDS_PER_LOOKUP`) counts as fully found. A peer that two storing nodes each leave out
 * of a sample with probability 0.6 is missed by five lookups in a row with probability 0.6^10.
 */
const SAMPLED_QUIET_LOOKUPS = 5

/**
 * While peers that lookups found are not connected, the topic is looked up again (which makes
 * Hyperswarm dial them afresh, even the ones it gave up on) at most this many ms apart, for the
 * first `REPAIR_FAST_ROUNDS` rounds; then on the ordinary backoff.
 */
const REPAIR_MAX_MS = 4000
const REPAIR_FAST_ROUNDS = 15
/**
 * A topic whose networker already has the minimum of peers (a partial mesh) repairs at most this
 * often (ms): a few lookups a minute, whatever the `relookupBackoff`, so the many hosts of a
 * large topic that sit between the minimum and `maxPeers` do not look it up all the time.
 */
const SATISFIED_REPAIR_MS = 20_000
/** Each repair delay is scaled by a random factor in [1 - j, 1 + j]: hosts do not dial in lockstep. */
const REPAIR_JITTER = 0.25

/**
 * Relookups running at once, over all topics; more wait their turn (in due order). A relookup is
 * a DHT query (an announce, for an announcing topic): a networker that joins 1,000 topics at
 * once would otherwise run 1,000 of them at every step of the backoff, beside its own joins.
 */
const MAX_RUNNING = 16

/** What relookups need of the swarm. */
export type RelookupPort = Pick<SwarmSource, 'update' | 'connectedFor' | 'foundFor'>

/** How full the networker is: a topic needs no more peers once every slot is held. */
export interface Degree {
  /** Every `maxPeers` slot is held (peers and pending connections). */
  readonly saturated: boolean
  /** The fewest peers the networker looks for while it has fewer (repairs run fast below it). */
  readonly minimum: number
  /** `maxPeers`: a topic that found more peers than this is a partial mesh. */
  readonly slots: number
}

const UNBOUNDED: Degree = { saturated: false, minimum: Infinity, slots: Infinity }

/** A join's Hyperswarm options. */
export interface Join {
  readonly server: boolean
  readonly client: boolean
}

/** The fields of a topic's record that relookups read and keep. */
export interface RelookupRecord {
  readonly key: Buffer
  session: DiscoverySession | null
  /**
   * Moves on at every `stop` (each configure of the key): a relookup due or under way from
   * before it neither tells the swarm anything nor schedules another.
   */
  generation: number
  relookup: QueuedTimer | null
  relookups: number
  /** Peers Hyperswarm has found through this topic, after the last lookup. */
  found: number
  /** Lookups in a row (the join's included) that found no peer the ones before had not. */
  quiet: number
  /** Lookups in a row run because found peers were not connected. */
  repairs: number
}

/**
 * The relookup policy of every topic, on one timer queue (one scheduler action for all keys, so
 * `TestScheduler` drives it in marble tests as it drives any other timer).
 */
export class Relookups {
  private readonly timers: TimerQueue
  /** Relookups due while `MAX_RUNNING` others run. */
  private readonly waiting: Array<() => Promise<unknown>> = []
  private running = 0
  private stopped = false

  constructor(
    scheduler: SchedulerLike,
    private readonly backoff: readonly number[] = DEFAULT_RELOOKUP_BACKOFF,
    private readonly degree: () => Degree = () => UNBOUNDED
  ) {
    this.timers = new TimerQueue(scheduler)
  }

  /** After a join's discovery: notes what it found and starts the key's backoff. */
  start(record: RelookupRecord, options: Join, source: RelookupPort): void {
    record.found = source.foundFor(record.key)
    record.quiet = 1
    this.schedule(record, options, source)
  }

  /** Stops every relookup for good (the networker is closing). */
  close(): void {
    this.stopped = true
    this.timers.stop()
    this.waiting.length = 0
  }

  /** Runs a relookup now if fewer than `MAX_RUNNING` run, else when one of them ends. */
  private run(relookup: () => Promise<unknown>): void {
    if (this.running >= MAX_RUNNING) {
      this.waiting.push(relookup)
      return
    }
    this.running++
    void relookup().finally(() => {
      this.running--
      const next = this.waiting.shift()
      if (next !== undefined && !this.stopped) this.run(next)
    })
  }

  /**
   * Two peers that join at the same instant can miss each other until Hyperswarm's next refresh
   * (about 10 minutes), even when each of them found others. Look a lookup topic up again on a
   * short backoff: twice after every join, then for as long as it has no peer, or the last
   * lookup still found peers the ones before had not. A DHT node answers with at most 20 random
   * announcements, so a swarm of more is found a sample at a time: once 20 were found, it keeps
   * looking until `SAMPLED_QUIET_LOOKUPS` lookups in a row found nobody new.
   *
   * And repair: while fewer peers are connected than the last lookup found (a pair whose
   * connection died, a peer Hyperswarm forgot after several short connections), look again on a
   * jittered backoff capped at `REPAIR_MAX_MS`. A lookup makes Hyperswarm dial every found peer
   * it is not connected to afresh. Banned peers (failed authentication, the firewall) do not
   * count as found.
   *
   * With a bounded degree (a topic larger than `maxPeers`): a topic is satisfied once every slot
   * is held, so a saturated networker neither repairs nor looks again for missing peers; and once
   * it has the minimum of peers (`Degree.minimum`) its repairs go at least `SATISFIED_REPAIR_MS`
   * apart (the ordinary backoff beyond), not on the fast one: a node that has enough peers does
   * not hammer full ones. A topic that fits (found no more peers than `maxPeers`: a full mesh)
   * keeps the fast repairs.
   */
  private schedule(record: RelookupRecord, options: Join, source: RelookupPort): void {
    const backoff = this.backoff
    if (backoff.length === 0 || this.stopped) return
    const connected = source.connectedFor(record.key)
    const { saturated, minimum, slots } = this.degree()
    // A topic that found more peers than there are slots (a partial mesh) is not sampled to the
    // end once the networker has the minimum: it can never connect to everyone anyway, and each
    // lookup of a large swarm finds someone new (at 100 hosts every host looked every 2 s).
    const enough = record.found > slots && (saturated || connected >= minimum)
    const eager = (): boolean =>
      record.relookups < EAGER_RELOOKUPS ||
      (!enough && record.quiet < (record.found >= DHT_RECORDS_PER_LOOKUP ? SAMPLED_QUIET_LOOKUPS : 1))
    const missing = connected > 0 && connected < record.found && !saturated
    if (!missing) record.repairs = 0
    // With every found peer connected, only watch (at the first backoff) for that to change.
    const watching = !eager() && connected > 0 && !missing
    // A peer that joined at the same instant announced while our first lookup ran: look again
    // shortly after our own announce completed, so simultaneous joiners meet within one lookup.
    // Only the first lookup after a join, only an announcing one, and only when it found nobody.
    const meetSimultaneous = record.relookups === 0 && options.server && record.found === 0
    const delay = meetSimultaneous
      ? SIMULTANEOUS_RELOOKUP_MS
      : watching
        ? backoff[0]
        : missing && !eager()
          ? connected < minimum || record.found <= slots
            ? repairDelay(record.repairs, backoff)
            : Math.max(SATISFIED_REPAIR_MS, backoff[Math.min(record.repairs, backoff.length - 1)])
          : backoff[Math.min(record.relookups, backoff.length - 1)]
    record.relookup = this.timers.schedule(delay, () => {
      record.relookup = null
      if (this.stopped || record.session === null) return
      // The first lookups after a join always run: peers that joined at the same instant as
      // us missed each other even when both found someone else. The look-again-after-announcing
      // is skipped once a peer came in the meantime (it dialled us: nobody was missed).
      const now = source.connectedFor(record.key)
      if (meetSimultaneous ? now > 0 : !eager() && now > 0 && (now >= record.found || this.degree().saturated)) {
        this.schedule(record, options, source)
        return
      }
      record.relookups++
      if (!eager() && now > 0) record.repairs++
      const session = record.session
      // Every change of the key's session (a leave, a new join) goes through `stop` first.
      const generation = record.generation
      const current = (): boolean => !this.stopped && record.generation === generation
      // Not queued behind the key's configure calls: a configure waiting for its flush (which a
      // loaded swarm may take seconds to reach) would hold every lookup back meanwhile, and the
      // peers still unfound with it. A configure since then cancels this one (`stop`), and the
      // swarm keeps the options it was given last.
      this.run(async () => {
        if (!current()) return
        try {
          await session.refresh(options)
        } catch {
          return
        }
        if (!current()) return
        source.update()
        const found = source.foundFor(record.key)
        record.quiet = found > record.found ? 0 : record.quiet + 1
        record.found = found
        if (record.relookup === null) this.schedule(record, options, source)
      })
    })
  }

  /** Cancels a key's relookups (a refresh, a leave): the next `start` begins the backoff afresh. */
  stop(record: RelookupRecord): void {
    record.generation++
    record.relookup?.cancel()
    record.relookup = null
    record.relookups = 0
  }
}

/** The next repair delay: the ordinary backoff, capped for the first rounds, with jitter. */
function repairDelay(repairs: number, backoff: readonly number[]): number {
  const base = backoff[Math.min(repairs, backoff.length - 1)]
  const capped = repairs < REPAIR_FAST_ROUNDS ? Math.min(base, REPAIR_MAX_MS) : base
  return Math.round(capped * (1 - REPAIR_JITTER + 2 * REPAIR_JITTER * Math.random()))
}
