/**
 * The values a client hands out, built from what the server sent: frozen, with one `RemotePeer`
 * object per peer while its address holds. Browser-safe.
 */
import {
  hexToBytes,
  remoteError,
  type JsonValue,
  type RemoteError,
  type RemoteMessage,
  type RemotePeer,
  type RemotePeerEvent,
  type RemoteSendResult,
  type RemoteTopicState
} from './protocol'

/** The `topics` snapshot (an array of states) as the map `topics$` emits, keyed by hex key. */
export function toTopicMap(value: unknown): ReadonlyMap<string, RemoteTopicState> {
  const out = new Map<string, RemoteTopicState>()
  if (!Array.isArray(value)) return out
  for (const state of value as RemoteTopicState[]) {
    out.set(
      state.discoveryKey,
      Object.freeze({
        discoveryKey: state.discoveryKey,
        announce: state.announce,
        lookup: state.lookup,
        joined: state.joined,
        flushed: state.flushed
      })
    )
  }
  return out
}

/** A `send` result (a version-1 server answers null: accepted, fullness unknown). */
export function toSendResult(value: unknown): RemoteSendResult {
  const result = (value ?? {}) as Partial<RemoteSendResult>
  return Object.freeze({
    accepted: true as const,
    full: result.full === true,
    waiting: typeof result.waiting === 'number' ? result.waiting : 0
  })
}

/** An `errors` value as a `RemoteError`. */
export function toError(value: unknown): RemoteError {
  const err = value as { code: string; message: string; remoteKey?: string | null }
  return remoteError(String(err.code), String(err.message), err.remoteKey ?? null)
}

/** One frozen `RemotePeer` per key while its address holds, so identity means "same peer". */
export class PeerCache {
  private readonly byKey = new Map<string, RemotePeer>()

  of(value: unknown): RemotePeer {
    const wire = (value ?? {}) as Partial<RemotePeer>
    const key = String(wire.remotePublicKey)
    const address = String(wire.remoteAddress)
    const known = this.byKey.get(key)
    if (known !== undefined && known.remoteAddress === address) return known
    const peer: RemotePeer = Object.freeze({ remotePublicKey: key, remoteAddress: address, type: 'udx' as const })
    // Bounded: a peer seen only in events or messages is not kept past a few hundred.
    if (this.byKey.size > 512) this.byKey.clear()
    this.byKey.set(key, peer)
    return peer
  }

  /** A `peers` snapshot as the frozen array `peers$` emits. */
  list(value: unknown): readonly RemotePeer[] {
    const list = Array.isArray(value) ? value.map((peer) => this.of(peer)) : []
    return Object.freeze(list)
  }

  /** A `peerEvents` value, its peer from this cache. */
  event(value: unknown): RemotePeerEvent {
    const event = value as { type: RemotePeerEvent['type']; peer: unknown }
    return Object.freeze({ type: event.type, peer: this.of(event.peer) }) as RemotePeerEvent
  }

  /** A `messages` value (bytes arrive as hex with `binary: true`), its peer from this cache. */
  message(value: unknown): RemoteMessage<unknown> {
    const wire = value as { peer: unknown; message: JsonValue; binary?: true }
    const message = wire.binary === true ? hexToBytes(String(wire.message)) : wire.message
    return Object.freeze({ message, peer: this.of(wire.peer) }) as RemoteMessage<unknown>
  }
}
