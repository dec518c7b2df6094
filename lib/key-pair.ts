import type Corestore from 'corestore'
import type { KeyPairLike } from './stack-types'

/** The name under which the default Noise key pair is derived from the store. */
export const KEY_PAIR_NAME = '@basestore/networker'

/**
 * The Noise key pair of every connection: the one passed in, or derived from the store
 * (`store.createKeyPair(KEY_PAIR_NAME)`, so a peer keeps its identity across restarts).
 */
export class KeyPairLoader {
  private derived: KeyPairLike | null = null
  private loading: Promise<KeyPairLike> | null = null

  constructor(
    private readonly store: Corestore,
    private readonly given: KeyPairLike | undefined
  ) {}

  /** The key pair now: the one given at once, the derived one once derived (else null). */
  get current(): KeyPairLike | null {
    return this.given ?? this.derived
  }

  /** Derives the key pair (memoized). */
  load(): Promise<KeyPairLike> {
    this.loading ??= (async () => {
      if (this.given) return this.given
      await this.store.ready()
      this.derived = await this.store.createKeyPair(KEY_PAIR_NAME)
      return this.derived
    })()
    return this.loading
  }
}
