import Protomux from 'protomux'
import { randomBytes } from 'crypto'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import type { Peer } from '../peer'
import type { PeerRecord } from '../peer-record'
import { toHex } from '../keys'
import { Lane, WindowLimits } from './lane'
import type { NameState } from './registry'
import { LinkWriter } from './writer'
import type { BatchWire } from './wire'

/** One extension on one peer: its lane and the channel of the current connection. */
export interface Slot {
  readonly nameState: NameState
  readonly lane: Lane
  channel: Protomux.Channel | null
  /** The channel's `BATCH` message (set and cleared with `channel`). */
  batch: Protomux.Message<BatchWire> | null
  /** The remote refused or closed the channel: sends are dropped until it opens again. */
  refused: boolean
  /** When (ms, `Date.now()`) the remote refused a channel it never opened (0: not in that grace). */
  refusedAt: number
  /** Messages dropped while refused: reported if the remote opens the channel after all. */
  droppedWhileRefused: number
  /** Since when the window has been full with no acknowledgement (ms; 0: it has room). */
  fullSince: number
  /** The window stayed full past `STALL_MS`: senders stop waiting for this lane. */
  stalled: boolean
  /** Messages refused while stalled, not reported yet. */
  shed: number
  /** What this lane moved with its peer (its name's counters hold the sums over every peer). */
  readonly traffic: SlotTraffic
  /** The bytes of received messages waiting for their delivery turn. */
  queuedBytes: number
  /** False once the peer left or the name was unregistered. */
  alive: boolean
  /** Writer bookkeeping (see `WriterSlot`). */
  scheduled: boolean
  lateAck: boolean
}

/** What one lane (one peer, one extension) moved, across swaps: read by metrics. */
export interface SlotTraffic {
  sent: number
  resent: number
  received: number
  dropped: number
}

/** The channels of one peer on its current connection. */
export interface Link {
  readonly peer: Peer
  stream: NoiseSecretStream
  mux: Protomux
  readonly lanes: Map<string, Slot>
  readonly writer: LinkWriter
  readonly remoteKey: () => string
}

/** A message waiting for its delivery turn. */
export interface Arrival {
  readonly link: Link
  readonly slot: Slot
  readonly seq: number
  readonly epoch: number | null
  readonly bytes: Uint8Array
}

/** The link of a new peer, on its current connection. */
export function createLink(peer: PeerRecord, onTickEnd: () => void, onfault: (link: Link, err: unknown) => void): Link {
  const mux = Protomux.from(peer.stream)
  const link: Link = {
    peer,
    stream: peer.stream,
    mux,
    lanes: new Map(),
    writer: new LinkWriter(mux, onTickEnd, (err) => onfault(link, err)),
    remoteKey: () => toHex(peer.remotePublicKey)
  }
  return link
}

/** A new slot: a lane with a random epoch, no channel yet. */
export function createSlot(nameState: NameState, window: WindowLimits): Slot {
  const traffic: SlotTraffic = { sent: 0, resent: 0, received: 0, dropped: 0 }
  return {
    nameState,
    lane: new Lane(randomBytes(4).readUInt32LE(0), window, traffic, nameState.counters),
    traffic,
    channel: null,
    batch: null,
    refused: false,
    refusedAt: 0,
    droppedWhileRefused: 0,
    fullSince: 0,
    stalled: false,
    shed: 0,
    queuedBytes: 0,
    alive: true,
    scheduled: false,
    lateAck: false
  }
}
