/**
 * What `serveNetworker` offers its clients, whoever they are: the `hello` that describes the
 * server, the streams a `sub` frame may name, and the commands (`configure`, `send`) when they
 * are on. Knows nothing of sockets.
 */
import { Observable, Subscription, map } from 'rxjs'
import { PROTOCOL_VERSION, RemoteErrorCodes, bytesToHex, hexToBytes, type ServerFrame } from './protocol'
import {
  toRemoteStreams,
  toRemoteTopicState,
  type ExtensionLike,
  type LocalPeerLike,
  type LocalStreamsLike,
  type LocalTopicStateLike
} from './streams'
import { coded, toWireMessage, type CommandFrame, type SubFrame } from './server-frames'

/** What the server needs of a networker: the streams, and `configure` for commands. */
export interface ServedNetworker extends LocalStreamsLike {
  /** The networker's public key (shown to clients), or null before it listens. */
  readonly publicKey?: Uint8Array | null
  configure?(
    discoveryKey: string,
    opts: { announce: boolean; lookup: boolean; flush: boolean }
  ): Promise<LocalTopicStateLike>
}

/** An extension the server publishes (an `Extension` of the networker fits). */
export interface ServedExtension extends ExtensionLike {
  /** `'binary'` extensions take and give bytes (hex on the wire). */
  readonly encoding: string
  send(message: unknown, peer: LocalPeerLike): boolean
  broadcast(message: unknown): boolean
}

/** What is published, the same for every client. */
export interface Publication {
  /** Whether the networker has closed (its `peers$` completed). */
  readonly networkerClosed: boolean
  /** The frame a client gets first. */
  hello(): ServerFrame
  /** The stream a `sub` frame names, or null if it may not be subscribed. */
  stream(frame: SubFrame): Observable<unknown> | null
  /** Runs a command; rejects with a coded error the client gets as a failed `result`. */
  command(frame: CommandFrame): Promise<unknown>
  /** Stops following the networker. */
  close(): void
}

/**
 * Publishes `networker`'s streams and `extensions`, and its commands if `commands` is true.
 * `onNetworkerClosed` runs (on a later turn, so clients' own subscriptions report `complete`
 * first) once the networker's `peers$` completes.
 */
export function publish(
  networker: ServedNetworker,
  opts: { extensions: ReadonlyArray<ServedExtension>; commands: boolean; onNetworkerClosed: () => void }
): Publication {
  const { extensions, commands, onNetworkerClosed } = opts
  const extensionsByName = new Map(extensions.map((ext) => [ext.name, ext]))
  const remote = toRemoteStreams(networker, { extensions })
  let networkerClosed = false
  // The current peers, for `send` to one of them.
  let peers: readonly LocalPeerLike[] = []
  const owned: Subscription = networker.peers$.subscribe({
    next: (list) => (peers = list),
    complete: () => {
      networkerClosed = true
      setImmediate(onNetworkerClosed)
    },
    error: () => {}
  })

  return {
    get networkerClosed() {
      return networkerClosed
    },
    hello: () => ({
      op: 'hello',
      version: PROTOCOL_VERSION,
      publicKey: networker.publicKey ? bytesToHex(networker.publicKey) : null,
      extensions: [...extensionsByName.keys()],
      commands
    }),
    stream: (frame) => {
      switch (frame.stream) {
        case 'peers':
          return remote.peers$
        case 'peerEvents':
          return remote.peerEvents$
        case 'topics':
          return remote.topics$.pipe(map((states) => [...states.values()]))
        case 'errors':
          return remote.errors$
        case 'messages':
          if (!extensionsByName.has(frame.name)) return null
          return remote.messages$(frame.name).pipe(map(toWireMessage))
      }
    },
    command: async (frame) => {
      if (!commands) throw coded(RemoteErrorCodes.ERR_COMMANDS_OFF, 'commands are off on this server')
      if (frame.op === 'configure') {
        if (typeof networker.configure !== 'function') throw coded(RemoteErrorCodes.ERR_COMMAND, 'this networker cannot configure')
        const state = await networker.configure(frame.key, { announce: frame.announce, lookup: frame.lookup, flush: frame.flush })
        return toRemoteTopicState(state)
      }
      const extension = extensionsByName.get(frame.name)
      if (extension === undefined) {
        throw coded(RemoteErrorCodes.ERR_UNKNOWN_EXTENSION, `Extension "${frame.name}" is not published`)
      }
      const message = frame.binary ? Buffer.from(hexToBytes(frame.message as string)) : frame.message
      if (frame.peer === undefined) {
        extension.broadcast(message)
        return null
      }
      const peer = peers.find((p) => bytesToHex(p.remotePublicKey) === frame.peer)
      if (peer === undefined) throw coded(RemoteErrorCodes.ERR_UNKNOWN_PEER, `Peer ${frame.peer.slice(0, 12)}… is not connected`)
      extension.send(message, peer)
      return null
    },
    close: () => owned.unsubscribe()
  }
}
