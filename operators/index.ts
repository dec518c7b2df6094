export { dedupeConnections } from './dedupeConnections'
export type { DedupeConnectionsConfig } from './dedupeConnections'
export { peerSet } from './peerSet'
export type { PeerSetConfig } from './peerSet'
export { detectFlush } from './detectFlush'
export { topicState, sameState } from './topicState'
export type {
  ConnectionLike,
  ConnectionEvent,
  DedupeEvent,
  PeerEvent,
  DiscoverySignal,
  SwarmProgress,
  TopicState,
  TopicInput
} from './types'
