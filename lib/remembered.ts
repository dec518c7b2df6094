import type Corestore from 'corestore'
import { ConfigStore, RememberedConfig } from './config-store'
import { NetworkerError, errors } from './errors'
import { TopicKey, toHex } from './keys'
import type { ConfigureRequest, TopicStatus } from './options'

/** What `configure` does about `status()` and `remember` for one call (see `Remembered.settle`). */
export interface RememberStep {
  inForce(): void
  remember(): Promise<void>
}

type OnDisk = Map<string, RememberedConfig & { discoveryKey: Buffer }>

/**
 * The configurations in force (`status()`) and the remember/restore policy: which keys are kept
 * in the store's config store, and restoring them on `listen()` unless the caller configured the
 * key first. The one owner of `status()`; the config store is opened on first use.
 */
export class Remembered {
  private readonly statuses = new Map<string, TopicStatus>()
  /** Keys a caller configured in this process: a background restore never overrides them. */
  private readonly callerKeys = new Set<string>()
  /** What is remembered on disk: read once, then kept in step by `persist`. */
  private onDisk: Promise<OnDisk> | null = null
  private configStore: ConfigStore | null = null

  constructor(
    private readonly store: Corestore,
    private readonly onerror: (err: NetworkerError) => void
  ) {}

  status({ hex }: TopicKey): TopicStatus | null {
    return this.statuses.get(hex) ?? null
  }

  all(): TopicStatus[] {
    return [...this.statuses.values()]
  }

  /**
   * The step `configure` runs in the key's queue when the call is applied: `inForce()` sets
   * `status()` (the configuration in force, not one still waiting its turn) right before the
   * state changes; `remember()` settles what is remembered while the swarm works.
   */
  settle({ key, hex }: TopicKey, config: ConfigureRequest, fromCaller: boolean): RememberStep {
    if (fromCaller) this.callerKeys.add(hex)
    const joining = config.announce || config.lookup
    let known: TopicStatus | undefined
    let remember = false
    const status = (value: boolean): void => {
      if (joining) this.statuses.set(hex, { discoveryKey: key, announce: config.announce, lookup: config.lookup, remember: value })
      else this.statuses.delete(hex)
    }
    const inForce = (): void => {
      known = this.statuses.get(hex)
      remember = joining ? (config.remember ?? known?.remember ?? false) : false
      status(remember)
    }
    const settled = async (): Promise<void> => {
      let wasRemembered = known?.remember ?? false
      if (fromCaller && known === undefined && config.remember === undefined) {
        // A remembered key the background restore has not reached yet is remembered all the same.
        const stored = await this.remembered().catch(() => null)
        wasRemembered = stored?.has(hex) ?? false
        if (wasRemembered && joining) {
          remember = true
          status(true)
        }
      }
      if (fromCaller && (remember || wasRemembered || config.remember === false)) {
        await this.persist({ key, hex }, { announce: config.announce, lookup: config.lookup, remember })
      }
      // A left key that was never remembered cannot be restored: nothing of it is kept. (A left
      // remembered key stays marked, so a restore already under way does not join it again.)
      if (fromCaller && !joining && !wasRemembered) this.callerKeys.delete(hex)
    }
    return { inForce, remember: settled }
  }

  /**
   * Applies every remembered configuration the caller has not configured, in the background;
   * stops when `closing()` turns true.
   */
  restore(apply: (key: TopicKey, config: ConfigureRequest) => Promise<unknown>, closing: () => boolean): void {
    const run = async (): Promise<void> => {
      for (const [hex, { discoveryKey, announce, lookup }] of [...(await this.remembered()).entries()]) {
        if (closing()) return
        if (this.callerKeys.has(hex)) continue
        await apply({ key: discoveryKey, hex }, { announce, lookup, flush: false, remember: true })
      }
    }
    run().catch((err: unknown) => {
      if (!closing()) this.onerror(errors.configStore('restore', err))
    })
  }

  /** Forgets the configurations in force (the networker is closing) and closes the config store. */
  async close(): Promise<void> {
    this.statuses.clear()
    await this.configStore?.close().catch(() => {})
  }

  /** Clears the configurations in force at once (the first step of closing). */
  clear(): void {
    this.statuses.clear()
  }

  private async persist({ key, hex }: TopicKey, config: RememberedConfig & { remember: boolean }): Promise<void> {
    try {
      this.configStore ??= new ConfigStore(this.store)
      const remembered = await this.remembered()
      if (config.remember && (config.announce || config.lookup)) {
        await this.configStore.put(key, config)
        remembered.set(hex, { discoveryKey: key, announce: config.announce, lookup: config.lookup })
      } else {
        await this.configStore.delete(key)
        remembered.delete(hex)
      }
    } catch (err) {
      this.onerror(errors.configStore('write', err))
    }
  }

  private remembered(): Promise<OnDisk> {
    this.onDisk ??= ConfigStore.list(this.store).then((list) => new Map(list.map((config) => [toHex(config.discoveryKey), config])))
    return this.onDisk
  }
}
