/**
 * What `serveNetworker` offers its clients, whoever they are: the `hello` that describes the
 * server, the streams a `sub` frame may name, and the commands (`configure`, `send`, `drained`)
 * when they are on. Knows nothing of sockets, nor of any one client's budget (server-sends).
 */
import { Observable, Subscription, map } from 'rxjs'
import type { HypercoreLike } from '../stack-types'
import type { CoreProgress } from '../metrics/types'
import { PROTOCOL_VERSION, RemoteErrorCodes, bytesToHex, hexToBytes, type ServerFrame } from './protocol'
import {
  toRemoteStreams,
  toRemoteTopicState,
  type ExtensionLike,
  type LocalPeerLike,
  type LocalStreamsLike,
  type LocalTopicStateLike
} from './streams'
import { coded, toWireMessage, type CommandFrame, type SendFrame, type SubFrame } from './server-frames'
import { DrainWatch } from './server-sends'

/** What the server needs of a networker: the streams, and `configure` for commands. */
export interface ServedNetworker extends LocalStreamsLike {
  /** The networker's public key (shown to clients), or null before it listens. */
  readonly publicKey?: Uint8Array | null
  configure?(
    discoveryKey: string,
    opts: { announce: boolean; lookup: boolean; flush: boolean }
  ): Promise<LocalTopicStateLike>
  /** One core's progress (a `ReactiveNetworker` has it): what a client's `progress$(discoveryKey)` reads. */
  progress$?(core: HypercoreLike): Observable<CoreProgress>
}

/** A session of a core, as `ServedStore.get` returns it (a Hypercore fits). */
export interface ServedCoreSession extends HypercoreLike {
  ready(): Promise<void>
  close(): Promise<void>
}

/** What the server reads of the networker's Corestore (a Corestore 7 fits). */
export interface ServedStore {
  /** A new session on the core with this discovery key. */
  get(opts: { discoveryKey: Buffer }): ServedCoreSession
  /** The store's open cores (Corestore 7's core tracker): `opened(hex discovery key)`. */
  readonly cores?: { opened?(discoveryKey: string): boolean }
}

/** An extension the server publishes (an `Extension` of the networker fits). */
export interface ServedExtension extends ExtensionLike {
  /** `'binary'` extensions take and give bytes (hex on the wire). */
  readonly encoding: string
  /** Returns false once that peer's window is full (the message is accepted all the same). */
  send(message: unknown, peer: LocalPeerLike): boolean
  /** Returns false if any peer's window is full. */
  broadcast(message: unknown): boolean
  /** Resolves once every peer's window of the extension has room again (or the peer is gone). */
  drained(): Promise<void>
}

/** What is published, the same for every client. */
export interface Publication {
  /** Whether the networker has closed (its `peers$` completed). */
  readonly networkerClosed: boolean
  /** The frame a client gets first. */
  hello(): ServerFrame
  /** The stream a `sub` frame names, or null if it may not be subscribed. */
  stream(frame: SubFrame): Observable<unknown> | null
  /** Runs `configure`; rejects with a coded error the client gets as a failed `result`. */
  configure(frame: Extract<CommandFrame, { op: 'configure' }>): Promise<unknown>
  /**
   * Hands a `send` command's message to its extension (one peer, or all without `peer`) and
   * returns whether the window it went into is now full. Throws a coded error instead (commands
   * off, an extension not published, a peer not connected); then nothing was sent.
   */
  send(frame: SendFrame): boolean
  /**
   * Calls `fn` once the windows of extension `name` have room (its `drained()`; one call of it
   * at a time whoever waits) and returns what cancels the wait. Throws a coded error for an
   * extension not published or with commands off.
   */
  onDrained(name: string, fn: () => void): () => void
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
  opts: {
    extensions: ReadonlyArray<ServedExtension>
    commands: boolean
    store?: ServedStore
    onNetworkerClosed: () => void
  }
): Publication {
  const { extensions, commands, store, onNetworkerClosed } = opts
  const extensionsByName = new Map(extensions.map((ext) => [ext.name, ext]))
  const watches = new Map(extensions.map((ext) => [ext.name, new DrainWatch(ext)]))
  const published = (name: string): ServedExtension => {
    if (!commands) throw coded(RemoteErrorCodes.ERR_COMMANDS_OFF, 'commands are off on this server')
    const extension = extensionsByName.get(name)
    if (extension === undefined) throw coded(RemoteErrorCodes.ERR_UNKNOWN_EXTENSION, `Extension "${name}" is not published`)
    return extension
  }
  const remote = toRemoteStreams(networker, { extensions, progress: (hex) => openProgress(networker, store, hex) })
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
        case 'metrics':
          return remote.metrics$(frame.interval === undefined ? undefined : { interval: frame.interval })
        case 'progress':
          return remote.progress$(frame.key)
      }
    },
    configure: async (frame) => {
      if (!commands) throw coded(RemoteErrorCodes.ERR_COMMANDS_OFF, 'commands are off on this server')
      if (typeof networker.configure !== 'function') throw coded(RemoteErrorCodes.ERR_COMMAND, 'this networker cannot configure')
      const state = await networker.configure(frame.key, { announce: frame.announce, lookup: frame.lookup, flush: frame.flush })
      return toRemoteTopicState(state)
    },
    send: (frame) => {
      const extension = published(frame.name)
      const message = frame.binary ? Buffer.from(hexToBytes(frame.message as string)) : frame.message
      if (frame.peer === undefined) return !extension.broadcast(message)
      const peer = peers.find((p) => bytesToHex(p.remotePublicKey) === frame.peer)
      if (peer === undefined) throw coded(RemoteErrorCodes.ERR_UNKNOWN_PEER, `Peer ${frame.peer.slice(0, 12)}… is not connected`)
      return !extension.send(message, peer)
    },
    onDrained: (name, fn) => {
      published(name)
      return (watches.get(name) as DrainWatch).add(fn)
    },
    close: () => {
      owned.unsubscribe()
      for (const watch of watches.values()) watch.close()
    }
  }
}

/**
 * The progress of the core open in `store` with discovery key `hex`, through a session of its own
 * (closed when the subscription ends), or null if no such core is open (or the networker has no
 * `progress$`). Only cores already open are read: nothing is created or loaded for a client.
 */
function openProgress(networker: ServedNetworker, store: ServedStore | undefined, hex: string): Observable<CoreProgress> | null {
  if (store === undefined || typeof networker.progress$ !== 'function') return null
  if (store.cores?.opened?.(hex) !== true) return null
  const progress$ = networker.progress$.bind(networker)
  return new Observable<CoreProgress>((subscriber) => {
    let session: ServedCoreSession
    try {
      session = store.get({ discoveryKey: Buffer.from(hexToBytes(hex)) })
    } catch (err) {
      subscriber.error(coded(RemoteErrorCodes.ERR_UNKNOWN_CORE, err instanceof Error ? err.message : String(err)))
      return
    }
    let inner: Subscription | null = null
    let ended = false
    session.ready().then(
      () => {
        if (!ended) inner = progress$(session).subscribe(subscriber)
      },
      (err: unknown) => subscriber.error(coded(RemoteErrorCodes.ERR_UNKNOWN_CORE, err instanceof Error ? err.message : String(err)))
    )
    return () => {
      ended = true
      inner?.unsubscribe()
      session.close().catch(() => {})
    }
  })
}
