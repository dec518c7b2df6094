export { ReactiveNetworker, KEY_PAIR_NAME, DEFAULT_REPLICATION_WAIT } from './reactive-networker'
export type { NetworkerOptions, ConfigureOptions, TopicStatus, NetworkerState } from './reactive-networker'
export type { NetworkerPeerEvent, NetworkerStreams } from './streams'
export type { Peer, PeerStream } from './peer'
export type { CorestoreLike, DhtNodeLike, HypercoreLike, KeyPairLike, SwarmLike } from './stack-types'
export { DEFAULT_METRICS_INTERVAL, MIN_METRICS_INTERVAL, PROGRESS_THROTTLE_MS } from './metrics'
export type {
  CoreMetrics,
  CoreProgress,
  DhtMetrics,
  ExtensionTraffic,
  MetricsOptions,
  NetworkerMetrics,
  PeerMetrics,
  ReplicationTraffic,
  SwarmMetrics,
  TransportMetrics
} from './metrics'
export { NetworkerError, ErrorCodes } from './errors'
export type { ErrorCode } from './errors'
export type { Extension, ExtensionMessage, ExtensionStats } from './extension-types'
export { EXTENSION_PROTOCOL, DEFAULT_MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE_LIMIT, MAX_NAME_BYTES } from './extensions'
export { KEEPALIVE_PROTOCOL } from './keepalive'
export type { Encoding, CompactCodec, ValueCodec, Codec } from './encodings'
export { createLocalNetwork, loopbackNode } from './testnet'
export type { LocalNetwork, LocalNetworkOptions } from './testnet'
export type { TopicState } from '../operators/types'
export { Networker } from './facade'
export type {
  LegacyExtension,
  LegacyExtensionHandlers,
  LegacyCodec,
  LegacyNetworkerOptions,
  LegacyConfigureOptions,
  LegacyStatus,
  LegacyStreamInfo,
  NodeCallback
} from './legacy'
