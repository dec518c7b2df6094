import type { Observable } from 'rxjs'
import type { TopicState } from '../operators/types'
import type { NetworkerError } from './errors'
import type { Extension, ExtensionMessage } from './extensions'
import type { Peer } from './peer'
import type { PeerEvent } from '../operators/types'

/** The observable surface shared by `ReactiveNetworker` and the virtual networker. */
export interface NetworkerStreams {
  readonly peers$: Observable<readonly Peer[]>
  readonly peerEvents$: Observable<PeerEvent<Peer>>
  readonly topics$: Observable<ReadonlyMap<string, TopicState>>
  readonly errors$: Observable<NetworkerError>
  topic$(discoveryKey: Buffer | Uint8Array | string): Observable<TopicState>
  messages$<T>(extension: Extension<T>): Observable<ExtensionMessage<T>>
}

