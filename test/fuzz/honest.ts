/**
 * The honest peer beside the hostile one: a real networker in the fuzzer's process, connected to
 * the victim for a whole victim lifetime, sending numbered messages `{ h: n }` on the `fuzz`
 * extension the whole time (honouring `send()`/`drained()`), and checking that the victim's own
 * broadcasts `{ v: n }` reach it exactly once and in order.
 */
import b4a from 'b4a'
import { Subscription } from 'rxjs'
import type { ReactiveNetworker } from '../../lib/reactive-networker'
import type { Extension } from '../../lib/extension-types'
import type { Peer } from '../../lib/peer'
import type { Harness } from '../kit/harness'
import { waitFor } from '../kit/wait'
import { FUZZ_EXTENSION } from './protocol'

export interface HonestOptions {
  /** Send a burst every this many ms. Default 10. */
  readonly everyMs?: number
  /** Messages per burst. Default 2. */
  readonly burst?: number
  /** ms to wait for the victim to become our peer. Default 30 s. */
  readonly connectMs?: number
}

type FuzzMessage = Record<string, unknown>

export class HonestPeer {
  /** Messages accepted by `send()` (each must reach the victim once, in order). */
  sent = 0
  /** The victim's broadcasts as we received them. */
  readonly fromVictim = { received: 0, next: null as number | null, violations: 0, first: null as string | null }
  /** Our own `errors$`, by code. */
  readonly errors: Record<string, number> = {}
  /** Times the victim left our peer set (it should not, while it lives). */
  losses = 0
  private peer: Peer | null = null
  private waiting = false
  private readonly timer: ReturnType<typeof setInterval>
  private readonly subscriptions = new Subscription()

  private constructor(
    private readonly networker: ReactiveNetworker,
    private readonly ext: Extension<FuzzMessage>,
    private readonly victimKey: Buffer,
    opts: HonestOptions
  ) {
    const burst = opts.burst ?? 2
    this.timer = setInterval(() => this.tick(burst), opts.everyMs ?? 10)
  }

  static async start(h: Harness, topic: Buffer, victimKey: Buffer, opts: HonestOptions = {}): Promise<HonestPeer> {
    const networker = h.networker()
    const ext = networker.registerExtension<FuzzMessage>(FUZZ_EXTENSION, { encoding: 'json' })
    const isVictim = (p: Peer): boolean => b4a.equals(p.remotePublicKey, victimKey)
    await networker.configure(topic, { announce: false, lookup: true })
    const peers = await waitFor(networker.peers$, (ps) => ps.some(isVictim), opts.connectMs ?? 30_000)
    const honest = new HonestPeer(networker, ext, victimKey, opts)
    honest.peer = peers.find(isVictim) ?? null
    honest.subscriptions.add(
      networker.peers$.subscribe((ps) => {
        const peer = ps.find(isVictim) ?? null
        if (peer === null && honest.peer !== null) honest.losses++
        honest.peer = peer
      })
    )
    honest.subscriptions.add(
      networker.errors$.subscribe((err) => {
        honest.errors[err.code] = (honest.errors[err.code] ?? 0) + 1
      })
    )
    honest.subscriptions.add(ext.messages$.subscribe(({ message, peer }) => isVictim(peer) && honest.fromVictimMessage(message.v)))
    return honest
  }

  get publicKey(): Buffer {
    return this.networker.publicKey as Buffer
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.subscriptions.unsubscribe()
    await this.networker.close()
  }

  private tick(burst: number): void {
    const peer = this.peer
    if (peer === null || this.waiting || this.networker.closed) return
    for (let i = 0; i < burst; i++) {
      let room: boolean
      try {
        room = this.ext.send({ h: this.sent }, peer)
      } catch {
        return // the peer left between two ticks
      }
      this.sent++
      if (!room) {
        this.waiting = true
        void this.ext.drained().then(() => (this.waiting = false))
        return
      }
    }
  }

  private fromVictimMessage(v: unknown): void {
    const got = this.fromVictim
    got.received++
    if (typeof v !== 'number') {
      got.violations++
      got.first ??= `not a number: ${JSON.stringify(v)}`
      return
    }
    if (got.next !== null && v !== got.next) {
      got.violations++
      got.first ??= `expected ${got.next}, got ${v}`
    }
    got.next = Math.max(got.next ?? 0, v + 1)
  }
}
