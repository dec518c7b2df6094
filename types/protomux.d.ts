declare module 'protomux' {
  import NoiseSecretStream from '@hyperswarm/secret-stream'

  namespace Protomux {
    interface Encoding<T> {
      preencode(state: State, value: T): void
      encode(state: State, value: T): void
      decode(state: State): T
    }
    interface State {
      start: number
      end: number
      buffer: Uint8Array | null
    }
    interface Message<T = Uint8Array> {
      type: number
      send(message: T): boolean
    }
    interface MessageOptions<T> {
      encoding?: Encoding<T>
      onmessage?: (message: T, channel: Channel) => void
    }
    interface Channel {
      readonly protocol: string
      readonly id: Buffer | null
      readonly opened: boolean
      readonly closed: boolean
      readonly destroyed: boolean
      userData: unknown
      readonly messages: Message<Uint8Array>[]
      open(handshake?: unknown): void
      addMessage<T>(opts: MessageOptions<T>): Message<T>
      cork(): void
      uncork(): void
      close(): void
      fullyOpened(): Promise<boolean>
    }
    interface ChannelOptions {
      protocol: string
      id?: Buffer | null
      unique?: boolean
      userData?: unknown
      handshake?: Encoding<unknown> | null
      messages?: Array<MessageOptions<Uint8Array>>
      onopen?: (handshake: unknown, channel: Channel) => void
      onclose?: (isRemote: boolean, channel: Channel) => void
      ondestroy?: (channel: Channel) => void
      ondrain?: (channel: Channel) => void
    }
  }

  class Protomux {
    static from(stream: NoiseSecretStream, opts?: object): Protomux
    static isProtomux(mux: unknown): mux is Protomux
    readonly stream: NoiseSecretStream
    readonly drained: boolean
    /** How many cork() calls are not yet uncorked (0: writes go straight to the stream). */
    readonly corked: number
    cork(): void
    uncork(): void
    isIdle(): boolean
    pair(opts: { protocol: string; id?: Buffer | null }, notify: (id: Buffer | null) => void): void
    unpair(opts: { protocol: string; id?: Buffer | null }): void
    opened(opts: { protocol: string; id?: Buffer | null }): boolean
    createChannel(opts: Protomux.ChannelOptions): Protomux.Channel | null
    destroy(err?: Error): void
  }
  export = Protomux
}
