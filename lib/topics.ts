import type { DiscoverySession, SwarmSource } from './swarm-source'
import {
  BehaviorSubject,
  Observable,
  Subject,
  Subscription,
  SchedulerLike,
  asyncScheduler,
  concat,
  filter,
  firstValueFrom,
  map,
  merge,
  of,
  switchMap
} from 'rxjs'
import { detectFlush } from '../operators/detectFlush'
import { topicState } from '../operators/topicState'
import type { DiscoverySignal, TopicInput, TopicState } from '../operators/types'
import { NetworkerError, errors } from './errors'
import { toHex } from './keys'

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
 * While peers that lookups found are not connected, the topic is looked up again (which makes
 * Hyperswarm dial them afresh, even the ones it gave up on) at most this many ms apart, for the
 * first `REPAIR_FAST_ROUNDS` rounds; then on the ordinary backoff.
 */
const REPAIR_MAX_MS = 4000
const REPAIR_FAST_ROUNDS = 15
/** Each repair delay is scaled by a random factor in [1 - j, 1 + j]: hosts do not dial in lockstep. */
const REPAIR_JITTER = 0.25

/** A configuration as `configure` applies it (defaults filled in). */
export interface TopicConfig {
  readonly announce: boolean
  readonly lookup: boolean
  readonly flush: boolean
}

interface TopicEntry {
  readonly key: Buffer
  readonly hex: string
  session: DiscoverySession | null
  /** The per-key queue: every configure of this key runs after the previous one settled. */
  tail: Promise<unknown>
  readonly state: BehaviorSubject<TopicState>
  readonly inputs: Subject<TopicInput>
  readonly signals: Subject<DiscoverySignal>
  readonly subscription: Subscription
  relookup: Subscription | null
  relookups: number
  /** Peers Hyperswarm has found through this topic, after the last lookup. */
  found: number
  /** Whether the last lookup found peers the one before it had not. */
  foundMore: boolean
  /** Lookups in a row run because found peers were not connected. */
  repairs: number
}

export interface TopicsOptions {
  /** The swarm's commands and progress: join, leave, lookups found, peers per topic. */
  source: Pick<SwarmSource, 'progress$' | 'join' | 'leave' | 'update' | 'connectedFor' | 'foundFor'>
  onerror: (err: NetworkerError) => void
  /**
   * Runs between "discovery flushed" and the topic counting as flushed; completes when the topic
   * may count as flushed (for example once its peers opened the core's replication session).
   */
  settle?: (key: Buffer) => Observable<never>
  relookupBackoff?: readonly number[]
  scheduler?: SchedulerLike
}

/**
 * Per-key join / refresh / leave on the swarm, serialized per key, with each topic's state as a
 * `BehaviorSubject` folded by the `topicState` and `detectFlush` operators.
 */
export class Topics {
  private readonly entries = new Map<string, TopicEntry>()
  /** The joined topics; every emission of `topics$` is a copy of its own. */
  private readonly joined = new Map<string, TopicState>()
  private readonly all = new BehaviorSubject<ReadonlyMap<string, TopicState>>(new Map())
  private closed = false
  private readonly closedPromise: Promise<never>
  private rejectClosed: (err: Error) => void = () => {}

  /** Hot; the joined topics on subscribe, then after every change. Completes on close. */
  readonly topics$: Observable<ReadonlyMap<string, TopicState>> = this.all.asObservable()

  constructor(private readonly opts: TopicsOptions) {
    this.closedPromise = new Promise<never>((_resolve, reject) => {
      this.rejectClosed = reject
    })
    this.closedPromise.catch(() => {})
  }

  /** The current state of a key (not joined if never configured). */
  state(key: Buffer): TopicState {
    const entry = this.entries.get(toHex(key))
    return entry ? entry.state.getValue() : notJoined(key)
  }

  /** Applies a configuration after every earlier one for the same key. */
  configure(key: Buffer, config: TopicConfig, before: (() => Promise<void>) | null = null): Promise<TopicState> {
    if (this.closed) return Promise.reject(errors.closed('configure'))
    const leaving = !config.announce && !config.lookup
    if (leaving && !this.entries.has(toHex(key))) {
      // Nothing to leave: no state is kept for a key that was never joined.
      return (before !== null ? before() : Promise.resolve()).then(() => notJoined(key))
    }
    const entry = this.entry(key)
    const result = entry.tail.then(async () => {
      // `before` starts first (its synchronous part runs now) and finishes alongside the apply.
      const side = before !== null ? before() : null
      const state = await this.apply(entry, config)
      if (side !== null) await side
      return state
    })
    const tail = result.catch(() => {})
    entry.tail = tail
    // A left key whose queue is empty is forgotten: per-key state lives only while it is needed.
    void tail.then(() => {
      if (entry.tail === tail && !entry.state.getValue().joined) this.release(entry)
    })
    return result
  }

  /** Stops every timer, fails every waiting `configure` with `ERR_CLOSED`, completes the streams. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.rejectClosed(errors.closed('configure'))
    for (const entry of [...this.entries.values()]) {
      // The last state of every topic is "left": nothing is joined once the networker is closed.
      entry.state.next(notJoined(entry.key))
      this.release(entry)
    }
    this.joined.clear()
    this.all.next(new Map())
    this.all.complete()
  }

  /** Stops a key's timers and streams and forgets it. */
  private release(entry: TopicEntry): void {
    if (this.entries.get(entry.hex) !== entry) return
    this.entries.delete(entry.hex)
    entry.relookup?.unsubscribe()
    entry.subscription.unsubscribe()
    entry.inputs.complete()
    entry.signals.complete()
    entry.state.complete()
  }

  private entry(key: Buffer): TopicEntry {
    const hex = toHex(key)
    const existing = this.entries.get(hex)
    if (existing) return existing
    const inputs = new Subject<TopicInput>()
    const signals = new Subject<DiscoverySignal>()
    const state = new BehaviorSubject<TopicState>(notJoined(key))
    const settle = this.opts.settle
    const flushes = signals.pipe(
      detectFlush(this.opts.source.progress$),
      // A later `false` (a refresh, a leave) cancels a settle still under way.
      switchMap((flushed) => (flushed && settle ? concat(settle(key), of(true)) : of(flushed))),
      map((flushed): TopicInput => ({ type: 'flushed', flushed }))
    )
    const entry: TopicEntry = {
      key,
      hex,
      session: null,
      tail: Promise.resolve(),
      state,
      inputs,
      signals,
      relookup: null,
      relookups: 0,
      found: 0,
      foundMore: false,
      repairs: 0,
      subscription: merge(inputs, flushes)
        .pipe(topicState(key))
        .subscribe((next) => {
          state.next(next)
          this.publish(hex, next)
        })
    }
    this.entries.set(hex, entry)
    return entry
  }

  private publish(hex: string, state: TopicState): void {
    if (state.joined) this.joined.set(hex, state)
    else if (!this.joined.delete(hex)) return
    this.all.next(new Map(this.joined))
  }

  private async apply(entry: TopicEntry, { announce, lookup, flush }: TopicConfig): Promise<TopicState> {
    if (this.closed) throw errors.closed('configure')
    const { source } = this.opts
    this.stopRelookup(entry)

    if (!announce && !lookup) {
      entry.inputs.next({ type: 'configure', announce: false, lookup: false })
      entry.signals.next({ type: 'stop' })
      if (entry.session !== null) {
        entry.session = null
        try {
          await this.race(source.leave(entry.key))
        } catch (err) {
          if (this.closed) throw err
          this.opts.onerror(errors.discovery(entry.hex, err))
        }
      }
      return entry.state.getValue()
    }

    entry.inputs.next({ type: 'configure', announce, lookup })
    entry.signals.next({ type: 'start' })
    const options = { server: announce, client: lookup }
    if (entry.session === null) entry.session = source.join(entry.key, options)
    else void entry.session.refresh(options).catch(() => {})
    await this.race(entry.session.flushed())
    if (this.closed) throw errors.closed('configure')
    this.opts.source.update()
    entry.signals.next({ type: 'discovered' })
    entry.found = this.opts.source.foundFor(entry.key)
    entry.foundMore = false
    if (lookup) this.scheduleRelookup(entry, options)
    if (flush) {
      await this.race(firstValueFrom(entry.state.pipe(filter((s) => s.flushed || !s.joined))))
    }
    return entry.state.getValue()
  }

  /**
   * Two peers that join at the same instant can miss each other until Hyperswarm's next refresh
   * (about 10 minutes), even when each of them found others. Look a lookup topic up again on a
   * short backoff: twice after every join, then for as long as it has no peer, or the last
   * lookup still found peers the one before had not (a DHT node returns at most 20 records per
   * lookup, so a large swarm is found a part at a time).
   *
   * And repair: while fewer peers are connected than the last lookup found (a pair whose
   * connection died, a peer Hyperswarm forgot after several short connections), look again on a
   * jittered backoff capped at `REPAIR_MAX_MS`. A lookup makes Hyperswarm dial every found peer
   * it is not connected to afresh. Banned peers (failed authentication, the firewall) do not
   * count as found.
   */
  private scheduleRelookup(entry: TopicEntry, options: { server: boolean; client: boolean }): void {
    const backoff = this.opts.relookupBackoff ?? DEFAULT_RELOOKUP_BACKOFF
    if (backoff.length === 0) return
    const { source } = this.opts
    const scheduler = this.opts.scheduler ?? asyncScheduler
    const eager = (): boolean => entry.relookups < EAGER_RELOOKUPS || entry.foundMore
    const connected = source.connectedFor(entry.key)
    const missing = connected > 0 && connected < entry.found
    if (!missing) entry.repairs = 0
    // With every found peer connected, only watch (at the first backoff) for that to change.
    const watching = !eager() && connected > 0 && !missing
    // A peer that joined at the same instant announced while our first lookup ran: once our own
    // announce has completed, look again soon, so simultaneous joiners meet within one lookup.
    // Only the first lookup after a join, only an announcing one, and only when it found nobody.
    const meetSimultaneous = entry.relookups === 0 && options.server && entry.found === 0
    const delay = meetSimultaneous
      ? SIMULTANEOUS_RELOOKUP_MS
      : watching
        ? backoff[0]
        : missing && !eager()
          ? this.repairDelay(entry, backoff)
          : backoff[Math.min(entry.relookups, backoff.length - 1)]
    entry.relookup = scheduler.schedule(() => {
      entry.relookup = null
      if (this.closed || entry.session === null) return
      // The first lookups after a join always run: peers that joined at the same instant as
      // us missed each other even when both found someone else. The look-again-after-announcing
      // is skipped once a peer came in the meantime (it dialled us: nobody was missed).
      const now = source.connectedFor(entry.key)
      const complete = now > 0 && now >= entry.found
      if ((meetSimultaneous ? now > 0 : !eager() && complete)) {
        this.scheduleRelookup(entry, options)
        return
      }
      entry.relookups++
      if (!eager() && now > 0) entry.repairs++
      const session = entry.session
      entry.tail = entry.tail
        .then(async () => {
          if (this.closed || entry.session !== session) return
          await session.refresh(options)
          source.update()
          const found = source.foundFor(entry.key)
          entry.foundMore = found > entry.found
          entry.found = found
          if (!this.closed && entry.session === session && entry.relookup === null) {
            this.scheduleRelookup(entry, options)
          }
        })
        .catch(() => {})
    }, delay)
  }

  /** The next repair delay: the ordinary backoff, capped for the first rounds, with jitter. */
  private repairDelay(entry: TopicEntry, backoff: readonly number[]): number {
    const base = backoff[Math.min(entry.repairs, backoff.length - 1)]
    const capped = entry.repairs < REPAIR_FAST_ROUNDS ? Math.min(base, REPAIR_MAX_MS) : base
    return Math.round(capped * (1 - REPAIR_JITTER + 2 * REPAIR_JITTER * Math.random()))
  }

  private stopRelookup(entry: TopicEntry): void {
    entry.relookup?.unsubscribe()
    entry.relookup = null
    entry.relookups = 0
  }

  private race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.closedPromise])
  }
}

/** The state of a key with no configuration in force. */
export function notJoined(key: Buffer): TopicState {
  return Object.freeze({ discoveryKey: key, announce: false, lookup: false, joined: false, flushed: false })
}
