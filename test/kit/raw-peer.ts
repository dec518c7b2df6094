/**
 * A raw Protomux peer for hostile-peer tests: a plain Hyperswarm node that dials a networker,
 * answers the keep-alive channel (so it becomes a peer) and opens an extension channel on which
 * the test writes any frame it likes, valid or not.
 */
import Hyperswarm from 'hyperswarm'
import type HyperDHT from 'hyperdht'
import Protomux from 'protomux'
import c from 'compact-encoding'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { EXTENSION_PROTOCOL } from '../../lib/extensions'
import { KEEPALIVE_PROTOCOL } from '../../lib/keepalive'
import { MSG_ACK, MSG_BATCH, MSG_DATA, MSG_RESUME } from '../../lib/extensions/wire'
import type { Harness } from './harness'

/** One connection of a {@link rawPeer}: its extension channel's four messages, and what came in. */
export interface RawLink {
  readonly conn: NoiseSecretStream
  readonly mux: Protomux
  /** Writes one frame of the given wire message type (DATA, ACK, RESUME, BATCH). */
  send(type: number, bytes: Uint8Array): void
  /** DATA messages received (batched ones counted one by one). */
  readonly received: { data: number; acks: number[]; resumes: number }
}

export interface RawPeer {
  readonly swarm: Hyperswarm
  /** Every connection so far, in order. */
  readonly links: RawLink[]
}

/**
 * Dials `publicKey` with a plain swarm; on every connection it answers the keep-alive channel and
 * opens the extension `name`, reading nothing but counting what arrives. `onlink` runs once the
 * extension channel is open at both ends.
 */
export function rawPeer(h: Harness, publicKey: Buffer, name: string, onlink: (link: RawLink) => void = () => {}): RawPeer {
  const swarm = new Hyperswarm({ dht: h.net.swarmOptions().dht as HyperDHT })
  h.onCleanup(() => swarm.destroy())
  const links: RawLink[] = []
  swarm.on('connection', (conn: NoiseSecretStream) => {
    conn.on('error', () => {})
    const mux = Protomux.from(conn)
    mux.createChannel({ protocol: KEEPALIVE_PROTOCOL, messages: [{ encoding: c.raw }, { encoding: c.raw }] })?.open()
    const received = { data: 0, acks: [] as number[], resumes: 0 }
    let link: RawLink | null = null
    const channel = mux.createChannel({
      protocol: EXTENSION_PROTOCOL,
      id: Buffer.from(name),
      messages: [
        { encoding: c.raw, onmessage: () => received.data++ },
        { encoding: c.raw, onmessage: (bytes: Uint8Array) => received.acks.push(c.decode(c.uint, bytes)) },
        { encoding: c.raw, onmessage: () => received.resumes++ },
        { encoding: c.raw, onmessage: () => received.data++ }
      ],
      onopen: () => {
        if (link !== null) onlink(link)
      }
    })
    if (channel === null) return
    const types = [MSG_DATA, MSG_ACK, MSG_RESUME, MSG_BATCH]
    link = {
      conn,
      mux,
      received,
      send: (type, bytes) => {
        if (!types.includes(type) || channel.closed) return
        channel.messages[type].send(bytes)
      }
    }
    links.push(link)
    channel.open()
  })
  ;(swarm as unknown as { joinPeer(key: Buffer): void }).joinPeer(publicKey)
  return { swarm, links }
}
