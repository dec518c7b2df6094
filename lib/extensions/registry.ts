import { Observable, Subject } from 'rxjs'
import { NetworkerError, errors } from '../errors'
import type { Codec } from '../encodings'
import type { Peer } from '../peer'
import type { Extension, ExtensionMessage, ExtensionStats } from '../extension-types'
import type { LaneCounters } from './lane'
import { Multicast } from './multicast'

export type { Extension, ExtensionMessage, ExtensionStats }

/** One extension name: its channel id, registrations and counters. */
export interface NameState {
  readonly name: string
  /** The channel id: the name's UTF-8 bytes (names are compared by these). */
  readonly id: Buffer
  /** `id` as a map key. */
  readonly key: string
  readonly registrations: Array<Registration<unknown>>
  readonly counters: LaneCounters & { received: number; dropped: number }
  /** `drained()` callers waiting for room. */
  readonly waiters: Array<() => void>
}

export function createNameState(name: string, id: Buffer): NameState {
  return {
    name,
    id,
    key: id.toString('latin1'),
    registrations: [],
    counters: { sent: 0, resent: 0, received: 0, dropped: 0 },
    waiters: []
  }
}

/** What a registration needs of the hub: a small port, not the hub. */
export interface ExtensionPort {
  readonly closed: boolean
  readonly maxMessageSize: number
  /** Accepts one encoded message, or several in order, for one peer; returns whether its window still has room. */
  send(nameState: NameState, peer: Peer, messages: Uint8Array | readonly Uint8Array[]): boolean
  broadcast(nameState: NameState, bytes: Uint8Array): boolean
  drained(nameState: NameState): Promise<void>
  unregister(registration: Registration<unknown>, nameState: NameState): void
  report(err: NetworkerError): void
}

/** The public side of one `registerExtension` call. */
export class Registration<T> implements Extension<T> {
  private readonly messages = new Multicast<ExtensionMessage<T>>()
  private readonly failures = new Subject<NetworkerError>()
  private isDestroyed = false

  readonly name: string
  readonly encoding: string
  readonly messages$: Observable<ExtensionMessage<T>> = this.messages.observable
  readonly errors$: Observable<NetworkerError> = this.failures.asObservable()

  constructor(
    private readonly port: ExtensionPort,
    private readonly nameState: NameState,
    private readonly codec: Codec<T>
  ) {
    this.name = nameState.name
    this.encoding = codec.name
  }

  get destroyed(): boolean {
    return this.isDestroyed
  }

  get stats(): ExtensionStats {
    const { sent, resent, received, dropped } = this.nameState.counters
    return { sent, resent, received, dropped }
  }

  send(message: T, peer: Peer): boolean {
    this.check()
    if (!isPeer(peer)) throw errors.invalidPeer(peer)
    return this.port.send(this.nameState, peer, this.encode(message))
  }

  sendMany(messages: Iterable<T>, peer: Peer): boolean {
    this.check()
    if (!isPeer(peer)) throw errors.invalidPeer(peer)
    const batch: Uint8Array[] = []
    for (const message of messages) batch.push(this.encode(message))
    return this.port.send(this.nameState, peer, batch)
  }

  broadcast(message: T): boolean {
    this.check()
    return this.port.broadcast(this.nameState, this.encode(message))
  }

  drained(): Promise<void> {
    return this.port.drained(this.nameState)
  }

  destroy(): void {
    if (this.isDestroyed) return
    this.isDestroyed = true
    this.port.unregister(this as Registration<unknown>, this.nameState)
    this.messages.complete()
    this.failures.complete()
  }

  /** @internal Decodes and emits one incoming message; a bad one becomes an error. */
  deliver(bytes: Uint8Array, peer: Peer, remoteKey: () => string): void {
    let message: T
    try {
      message = this.codec.decode(bytes)
    } catch (err) {
      this.fail(errors.decode(this.name, remoteKey(), err))
      return
    }
    this.messages.next({ message, peer })
  }

  /** @internal */
  fail(err: NetworkerError): void {
    this.failures.next(err)
    this.port.report(err)
  }

  private encode(message: T): Uint8Array {
    let bytes: Uint8Array
    try {
      bytes = this.codec.encode(message)
    } catch (err) {
      throw errors.encode(this.name, err)
    }
    const max = this.port.maxMessageSize
    if (bytes.byteLength > max) throw errors.tooLarge(bytes.byteLength, max)
    return bytes
  }

  private check(): void {
    if (this.port.closed) throw errors.closed(`Extension "${this.name}"`)
    if (this.isDestroyed) throw errors.extensionDestroyed(this.name)
  }
}

function isPeer(value: unknown): value is Peer {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Partial<Peer>).remotePublicKey instanceof Uint8Array
  )
}
