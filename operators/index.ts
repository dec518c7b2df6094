export { dedupeConnections } from './dedupeConnections'
export type { DedupeConnectionsConfig } from './dedupeConnections'
export { peerSet } from './peerSet'
export type { PeerSetConfig } from './peerSet'
export { detectFlush } from './detectFlush'
export { topicState, sameState } from './topicState'
export { topicEvents } from './topicEvents'
export type { TopicEvent } from './topicEvents'
export { rates } from './rates'
export type { CounterSample, CounterRates } from './rates'
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
