export { ExtensionHub } from './channel'
export type { ExtensionHubOptions, PeerExtensionTraffic } from './channel'
export { Registration } from './registry'
export type { Extension, ExtensionMessage, ExtensionStats, ExtensionPort, NameState } from './registry'
export { Lane } from './lane'
export type { WindowLimits, LaneCounters, AckResult } from './lane'
export {
  EXTENSION_PROTOCOL,
  DEFAULT_MAX_MESSAGE_SIZE,
  MAX_MESSAGE_SIZE_LIMIT,
  MAX_NAME_BYTES,
  DEFAULT_WINDOW
} from './limits'
