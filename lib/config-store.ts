import type Corestore from 'corestore'
import Hyperbee from 'hyperbee'
import { toHex } from './keys'

/** The private namespace and core name of the remembered configurations. */
const NAMESPACE = '@basestore/networker'
const CORE_NAME = 'configurations'

/** A remembered configuration. */
export interface RememberedConfig {
  readonly announce: boolean
  readonly lookup: boolean
}

interface StoredValue {
  announce: boolean
  lookup: boolean
}

/**
 * Remembered configurations, kept in the Corestore itself: a Hyperbee on a core of a private
 * namespace, opened inactive so it is never offered to peers. Created on the first write.
 */
export class ConfigStore {
  /** The namespace's own Corestore session: closing it closes the core (and leaves the store open). */
  private readonly ns: Corestore
  private readonly bee: Hyperbee<StoredValue>
  private closing: Promise<void> | null = null

  constructor(store: Corestore) {
    this.ns = store.namespace(NAMESPACE)
    this.bee = new Hyperbee<StoredValue>(openCore(this.ns, true), { keyEncoding: 'utf-8', valueEncoding: 'json' })
  }

  /** Stores a configuration; resolves once it is written to disk. */
  async put(discoveryKey: Buffer, config: RememberedConfig): Promise<void> {
    await this.bee.put(toHex(discoveryKey), { announce: config.announce, lookup: config.lookup })
  }

  /** Forgets a configuration. */
  async delete(discoveryKey: Buffer): Promise<void> {
    await this.bee.del(toHex(discoveryKey))
  }

  close(): Promise<void> {
    this.closing ??= this.bee.close().finally(() => this.ns.close())
    return this.closing
  }

  /**
   * Whether the store holds the core of remembered configurations, read from storage without
   * opening (or creating) it: opening a missing core with `createIfMissing: false` leaves a
   * failed session behind. True when the Corestore internals it reads are not there.
   */
  static async exists(store: Corestore): Promise<boolean> {
    return withNamespace(store, holdsCore)
  }

  /** The discovery key of the core of remembered configurations, or null when there is none (none is created). */
  static async discoveryKey(store: Corestore): Promise<Buffer | null> {
    return withNamespace(store, async (ns) => {
      if (!(await holdsCore(ns))) return null
      const core = openCore(ns, false)
      await core.ready()
      return core.discoveryKey
    })
  }

  /** Reads every remembered configuration without creating the store if there is none. */
  static async list(store: Corestore): Promise<Array<RememberedConfig & { discoveryKey: Buffer }>> {
    return withNamespace(store, async (ns) => {
      if (!(await holdsCore(ns))) return []
      const core = openCore(ns, false)
      await core.ready()
      const bee = new Hyperbee<StoredValue>(core, { keyEncoding: 'utf-8', valueEncoding: 'json' })
      const found: Array<RememberedConfig & { discoveryKey: Buffer }> = []
      for await (const { key, value } of bee.createReadStream()) {
        if (!/^[0-9a-f]{64}$/.test(key) || typeof value !== 'object' || value === null) continue
        found.push({ discoveryKey: Buffer.from(key, 'hex'), announce: value.announce === true, lookup: value.lookup === true })
      }
      return found
    })
  }
}

/** Corestore internals read to learn whether the core exists without creating it. */
interface StoreInternals {
  ns?: Buffer
  ready(): Promise<void>
  storage?: { getAlias?(alias: { name: string; namespace: Buffer }): Promise<Buffer | null> }
}

/** Whether the namespace session `ns` holds the core of remembered configurations (see `exists`). */
async function holdsCore(session: Corestore): Promise<boolean> {
  const ns = session as unknown as StoreInternals
  await ns.ready()
  const getAlias = ns.storage?.getAlias
  if (getAlias === undefined || ns.ns === undefined) return true
  return (await getAlias.call(ns.storage, { name: CORE_NAME, namespace: ns.ns })) !== null
}

/** The core of remembered configurations, in the namespace session `ns`. */
function openCore(ns: Corestore, create: boolean): Corestore.Hypercore {
  return ns.get({ name: CORE_NAME, active: false, createIfMissing: create })
}

/**
 * Runs `fn` on a session of the store's private namespace and closes that session afterwards
 * (with every core opened through it): a Corestore session stays registered with its store
 * until it is closed, so one per read would pile up for the store's life.
 */
async function withNamespace<T>(store: Corestore, fn: (ns: Corestore) => Promise<T>): Promise<T> {
  const ns = store.namespace(NAMESPACE)
  try {
    return await fn(ns)
  } finally {
    await ns.close()
  }
}
