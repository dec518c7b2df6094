import b4a from 'b4a'
import { Observable, Subscription } from 'rxjs'
import type { Peer, PeerStream } from '../peer'
import type { NetworkerPeerEvent } from '../streams'
import { BlockCounts, addBlock, zeroCounts } from './cores'

/** What UDX exposes of a stream (udx-native 1.x getters), read when present. */
interface UdxStreamLike {
  readonly rtt?: number
  readonly packetsReceived?: number
  readonly packetsTransmitted?: number
  readonly retransmits?: number
}

/** A peer's connection with the UDX stream under it (`NoiseSecretStream.rawStream`). */
type MeteredStream = PeerStream & { readonly rawStream?: UdxStreamLike | null }

/** Cumulative transport counters of a peer, summed across its connections. */
export interface TransportTotals {
  bytesIn: number
  bytesOut: number
  packetsIn: number
  packetsOut: number
  retransmits: number
}

function zeroTotals(): TransportTotals {
  return { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, retransmits: 0 }
}

function addStream(into: TransportTotals, stream: MeteredStream): void {
  into.bytesIn += stream.rawBytesRead ?? 0
  into.bytesOut += stream.rawBytesWritten ?? 0
  const udx = stream.rawStream
  if (udx == null) return
  into.packetsIn += udx.packetsReceived ?? 0
  into.packetsOut += udx.packetsTransmitted ?? 0
  into.retransmits += udx.retransmits ?? 0
}

/**
 * One connected peer's bookkeeping, from its `add` to its `remove`: when it came, its swaps, and
 * its counters across swaps. A connection's counters start at zero, so the connections it left
 * are kept: each until it has closed (its counters are final then), then its figures are added to
 * a base, so the totals only ever grow.
 */
export class PeerTally {
  readonly key: string
  swaps = 0
  /** Blocks and bytes replication moved with this peer, over every core (counted while observed). */
  readonly replication: BlockCounts = zeroCounts()
  private current: MeteredStream
  private retired: MeteredStream[] = []
  private readonly base = zeroTotals()

  constructor(
    readonly peer: Peer,
    readonly connectedSince: number
  ) {
    this.key = b4a.toString(peer.remotePublicKey, 'hex')
    this.current = peer.stream
  }

  /** The UDX stream of the current connection, if any. */
  get transport(): UdxStreamLike | null {
    return this.current.rawStream ?? null
  }

  swapTo(stream: PeerStream): void {
    if (stream === this.current) return
    this.swaps++
    this.retired.push(this.current)
    this.current = stream
    this.fold()
  }

  /** The counters now: closed connections (the base), replaced ones still open, and the current one. */
  totals(): TransportTotals {
    this.fold()
    const totals = { ...this.base }
    for (const stream of this.retired) addStream(totals, stream)
    addStream(totals, this.current)
    return totals
  }

  private fold(): void {
    if (this.retired.length === 0) return
    const open: MeteredStream[] = []
    for (const stream of this.retired) {
      if (stream.destroyed === true) addStream(this.base, stream)
      else open.push(stream)
    }
    this.retired = open
  }
}

/**
 * The tallies of the connected peers, kept from `peerEvents$` (subscribed from the networker's
 * construction, so every peer is seen from its `add`): at most one per peer, so at most `maxPeers`.
 */
export class PeerTallies {
  private readonly byKey = new Map<string, PeerTally>()
  /** Hex of the remote keys replication reports, by key object (Hypercore passes the same Buffer for a connection). */
  private readonly hex = new WeakMap<Uint8Array, string>()
  private readonly subscription: Subscription
  /** Swaps of every peer since the start, removed peers included. */
  private swapCount = 0

  constructor(peerEvents$: Observable<NetworkerPeerEvent>, now: () => number) {
    this.subscription = peerEvents$.subscribe(({ type, peer }) => {
      const key = b4a.toString(peer.remotePublicKey, 'hex')
      if (type === 'add') this.byKey.set(key, new PeerTally(peer, now()))
      else if (type === 'remove') this.byKey.delete(key)
      else {
        this.swapCount++
        this.byKey.get(key)?.swapTo(peer.stream)
      }
    })
  }

  get swaps(): number {
    return this.swapCount
  }

  values(): IterableIterator<PeerTally> {
    return this.byKey.values()
  }

  /** A block replicated with the peer of `remotePublicKey` (ignored if it is not a peer). */
  countBlock(remotePublicKey: Uint8Array, down: boolean, bytes: number): void {
    let key = this.hex.get(remotePublicKey)
    if (key === undefined) this.hex.set(remotePublicKey, (key = b4a.toString(remotePublicKey, 'hex')))
    const counts = this.byKey.get(key)?.replication
    if (counts !== undefined) addBlock(counts, down, bytes)
  }

  close(): void {
    this.subscription.unsubscribe()
    this.byKey.clear()
  }
}
