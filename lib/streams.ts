import type { Observable } from 'rxjs'
import type { PeerEvent, TopicState } from '../operators/types'
import type { NetworkerError } from './errors'
import type { Extension, ExtensionMessage } from './extension-types'
import type { Peer } from './peer'

/** `peerEvents$` values. */
export type NetworkerPeerEvent = PeerEvent<Peer>

/**
 * The observable surface shared by `ReactiveNetworker` and the virtual networker of
 * `@basestore/networker/testing`. Browser-safe: components typed against it run anywhere.
 */
export interface NetworkerStreams {
  readonly peers$: Observable<readonly Peer[]>
  readonly peerEvents$: Observable<NetworkerPeerEvent>
  readonly topics$: Observable<ReadonlyMap<string, TopicState>>
  readonly errors$: Observable<NetworkerError>
  topic$(discoveryKey: Uint8Array | string): Observable<TopicState>
  messages$<T>(extension: Extension<T>): Observable<ExtensionMessage<T>>
}
