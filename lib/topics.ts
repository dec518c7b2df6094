import { Observable, SchedulerLike, Subject, Subscription, asyncScheduler, defer, map, startWith } from 'rxjs'
import { isIdle } from '../operators/detectFlush'
import { initialTopicState, reduceTopicState, sameState } from '../operators/topicState'
import type { SwarmProgress, TopicInput, TopicState } from '../operators/types'
import { NetworkerError, errors } from './errors'
import type { TopicKey } from './keys'
import type { RememberStep } from './remembered'
import type { DiscoverySession, SwarmSource } from './swarm-source'
import { Degree, Join, RelookupRecord, Relookups } from './relookups'

/** Until the swarm's first snapshot arrives, nothing counts as flushed. */
const UNKNOWN_PROGRESS: SwarmProgress = { connecting: 1, queued: 0, saturated: false }
const FLUSHED: TopicInput = { type: 'flushed', flushed: true }

/** A configuration as `configure` applies it (defaults filled in). */
export interface TopicConfig {
  readonly announce: boolean
  readonly lookup: boolean
  readonly flush: boolean
}

/** What Topics needs of the swarm: its commands and its dialling progress. */
export type TopicsPort = Pick<SwarmSource, 'progress$' | 'join' | 'leave' | 'update' | 'connectedFor' | 'foundFor'>

/** Everything kept for one key while it is configured: a plain record, no stream of its own. */
interface TopicRecord extends TopicKey, RelookupRecord {
  state: TopicState
  session: DiscoverySession | null
  /** The per-key queue: every configure of this key runs after the previous one settled. */
  tail: Promise<unknown>
  /** The `settle` step under way between "discovery flushed" and flushed. */
  settling: Subscription | null
  /** `configure` calls waiting for flushed (or left). */
  waiters: Array<() => void> | null
}

export interface TopicsOptions {
  /** Opens the swarm (memoized by the caller); every configure goes through it. */
  source: () => Promise<TopicsPort>
  onerror: (err: NetworkerError) => void
  /**
   * Runs between "discovery flushed" and the topic counting as flushed; completes when the topic
   * may count as flushed (for example once its peers opened the core's replication session).
   */
  settle?: (key: Buffer) => Observable<never>
  relookupBackoff?: readonly number[]
  scheduler?: SchedulerLike
  /** How full the networker is (see `Relookups`); unbounded when not given. */
  degree?: () => Degree
}

/**
 * The one owner of topic state: per-key join / refresh / leave on the swarm, serialized per key.
 * Each key is a plain record whose state is folded by the pure `topicState` reducer; flushes are
 * detected for all waiting keys at once on the swarm's shared progress (`detectFlush`'s rule),
 * and relookups of all keys share one timer queue. Left keys are forgotten.
 */
export class Topics {
  private readonly records = new Map<string, TopicRecord>()
  /** The joined topics: what `topics$` shows (each subscriber gets a copy of its own). */
  private readonly joined = new Map<string, TopicState>()
  /** The joined topics at each change; never handed out: every subscriber gets its own copy. */
  private readonly changes = new Subject<ReadonlyMap<string, TopicState>>()
  /** `topic$` subscribers, per key, only while someone watches that key. */
  private readonly watchers = new Map<string, Subject<TopicState>>()
  /** Keys whose discovery finished, waiting for the swarm to stop dialling. */
  private readonly awaitingIdle = new Set<TopicRecord>()
  private readonly relookups: Relookups
  private readonly subscription = new Subscription()
  private progress = UNKNOWN_PROGRESS
  private watchingProgress = false
  private closed = false
  private readonly closedPromise: Promise<never>
  private rejectClosed: (err: Error) => void = () => {}

  /**
   * Hot; the joined topics on subscribe, then after every change; after close, the empty map and
   * completion. Every value is a new Map for that subscriber alone (a copy per subscriber, so one
   * subscriber's `set`/`delete` reaches nobody else); the states in it are frozen and shared.
   */
  readonly topics$: Observable<ReadonlyMap<string, TopicState>> = defer(() =>
    this.changes.pipe(
      map((joined): ReadonlyMap<string, TopicState> => new Map(joined)),
      startWith(this.snapshot())
    )
  )

  constructor(private readonly opts: TopicsOptions) {
    this.relookups = new Relookups(opts.scheduler ?? asyncScheduler, opts.relookupBackoff, opts.degree)
    this.closedPromise = new Promise<never>((_resolve, reject) => {
      this.rejectClosed = reject
    })
    this.closedPromise.catch(() => {})
  }

  /** The current state of a key (not joined if it has no configuration). */
  state({ key, hex }: TopicKey): TopicState {
    return this.records.get(hex)?.state ?? initialTopicState(key)
  }

  /** The joined topics now, a Map of its own. */
  snapshot(): Map<string, TopicState> {
    return new Map(this.joined)
  }

  /** Hot: the key's state on subscribe, then every change; after close, its last state and completion. */
  topic$(id: TopicKey): Observable<TopicState> {
    return new Observable<TopicState>((subscriber) => {
      if (this.closed) {
        subscriber.next(this.state(id))
        subscriber.complete()
        return undefined
      }
      let watcher = this.watchers.get(id.hex)
      if (watcher === undefined) {
        watcher = new Subject<TopicState>()
        this.watchers.set(id.hex, watcher)
      }
      const own = watcher
      const inner = own.subscribe(subscriber)
      subscriber.next(this.state(id))
      return () => {
        inner.unsubscribe()
        if (!own.observed && this.watchers.get(id.hex) === own) this.watchers.delete(id.hex)
      }
    })
  }

  /**
   * Applies a configuration after every earlier one for the same key. The remember step puts the
   * configuration in force right before the state changes, and settles what is remembered
   * alongside the join or leave (which the swarm is told first).
   */
  configure(id: TopicKey, config: TopicConfig, step: RememberStep | null = null): Promise<TopicState> {
    if (this.closed) return Promise.reject(errors.closed('configure'))
    const existing = this.records.get(id.hex)
    if (!config.announce && !config.lookup && existing === undefined) {
      // Nothing to leave: no state is kept for a key that was never joined.
      step?.inForce()
      return (step?.remember() ?? Promise.resolve()).then(() => initialTopicState(id.key))
    }
    const record = existing ?? this.create(id)
    const result = record.tail.then(async () => {
      const source = await this.opts.source()
      if (this.closed) throw errors.closed('configure')
      this.watchProgress(source)
      step?.inForce()
      const applying = this.apply(record, config, source)
      const side = step?.remember() ?? null
      const state = await applying
      if (side !== null) await side
      return state
    })
    const tail = result.catch(() => {})
    record.tail = tail
    // A left key whose queue is empty is forgotten: per-key state lives only while it is needed.
    void tail.then(() => {
      if (record.tail === tail && !record.state.joined) this.release(record)
    })
    return result
  }

  /** Ends every topic as left, stops every timer, fails waiting `configure`s, completes the streams. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.rejectClosed(errors.closed('configure'))
    this.relookups.close()
    this.subscription.unsubscribe()
    for (const record of [...this.records.values()]) {
      // The last state of every topic is "left": nothing is joined once the networker is closed.
      this.input(record, { type: 'configure', announce: false, lookup: false })
      this.release(record)
    }
    this.changes.complete()
    for (const watcher of this.watchers.values()) watcher.complete()
    this.watchers.clear()
  }

  private create({ key, hex }: TopicKey): TopicRecord {
    const record: TopicRecord = {
      key,
      hex,
      state: initialTopicState(key),
      session: null,
      tail: Promise.resolve(),
      settling: null,
      waiters: null,
      relookup: null,
      generation: 0,
      relookups: 0,
      repairs: 0,
      found: 0,
      quiet: 0
    }
    this.records.set(hex, record)
    return record
  }

  /** Stops a key's timers and forgets it. */
  private release(record: TopicRecord): void {
    if (this.records.get(record.hex) !== record) return
    this.records.delete(record.hex)
    this.relookups.stop(record)
    this.stopFlush(record)
  }

  /** Folds one input into the key's state; a change is published on `topics$` and `topic$`. */
  private input(record: TopicRecord, input: TopicInput): void {
    const next = reduceTopicState(record.state, input)
    if (sameState(next, record.state)) return
    record.state = next
    if (next.joined) this.joined.set(record.hex, next)
    else this.joined.delete(record.hex)
    if (this.changes.observed) this.changes.next(this.snapshot())
    this.watchers.get(record.hex)?.next(next)
    if (record.waiters !== null && (next.flushed || !next.joined)) {
      const waiters = record.waiters
      record.waiters = null
      for (const resolve of waiters) resolve()
    }
  }

  private async apply(record: TopicRecord, { announce, lookup, flush }: TopicConfig, source: TopicsPort): Promise<TopicState> {
    if (this.closed) throw errors.closed('configure')
    this.relookups.stop(record)
    this.stopFlush(record)
    this.input(record, { type: 'configure', announce, lookup })

    if (!announce && !lookup) {
      if (record.session !== null) {
        record.session = null
        try {
          await this.race(source.leave(record.key))
        } catch (err) {
          if (this.closed) throw err
          this.opts.onerror(errors.discovery(record.hex, err))
        }
      }
      return record.state
    }

    const options: Join = { server: announce, client: lookup }
    if (record.session === null) record.session = source.join(record.key, options)
    else void record.session.refresh(options).catch(() => {})
    await this.race(record.session.flushed())
    if (this.closed) throw errors.closed('configure')
    source.update()
    this.discovered(record)
    if (lookup) this.relookups.start(record, options, source)
    if (flush && record.state.joined && !record.state.flushed) {
      await this.race(new Promise<void>((resolve) => (record.waiters ??= []).push(resolve)))
    }
    return record.state
  }

  /** Follows the swarm's dialling progress (once; it replays its current snapshot at once). */
  private watchProgress(source: TopicsPort): void {
    if (this.watchingProgress || this.closed) return
    this.watchingProgress = true
    this.subscription.add(source.progress$.subscribe((progress) => this.onProgress(progress)))
  }

  /** `detectFlush`'s rule for one key, on the shared progress: flushed once the swarm is idle. */
  private discovered(record: TopicRecord): void {
    if (isIdle(this.progress)) this.settle(record)
    else this.awaitingIdle.add(record)
  }

  private onProgress(progress: SwarmProgress): void {
    this.progress = progress
    if (this.awaitingIdle.size === 0 || !isIdle(progress)) return
    const ready = [...this.awaitingIdle]
    this.awaitingIdle.clear()
    for (const record of ready) this.settle(record)
  }

  private settle(record: TopicRecord): void {
    const settle = this.opts.settle
    if (settle === undefined) {
      this.input(record, FLUSHED)
      return
    }
    let done = false
    const finish = (): void => {
      done = true
      record.settling = null
      this.input(record, FLUSHED)
    }
    const subscription = settle(record.key).subscribe({ complete: finish, error: finish })
    if (!done) record.settling = subscription
  }

  /** A refresh or a leave cancels a flush still waiting or settling. */
  private stopFlush(record: TopicRecord): void {
    this.awaitingIdle.delete(record)
    record.settling?.unsubscribe()
    record.settling = null
  }

  private race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.closedPromise])
  }
}
