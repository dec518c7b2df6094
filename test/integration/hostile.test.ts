import type Hyperswarm from 'hyperswarm'
import Protomux from 'protomux'
import c from 'compact-encoding'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { EXTENSION_PROTOCOL } from '../../lib/extensions'
import { KEEPALIVE_PROTOCOL } from '../../lib/keepalive'
import { encodeResume } from '../../lib/extensions/wire'
import type { NetworkerError } from '../../lib/errors'
import { createHarness, Harness, plainSwarm, sleep, until, waitFor, waitForPeers } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

/** A bare Hyperswarm peer that misbehaves on every connection it gets. */
function hostilePeer(onconnection: (conn: NoiseSecretStream, mux: Protomux) => void): Hyperswarm {
  return plainSwarm(h, (conn) => onconnection(conn, Protomux.from(conn)))
}

test('a hostile peer sending garbage, oversize frames, floods and hundreds of unknown channels cannot crash us; honest peers keep replicating; each incident reaches errors$ with a code', async () => {
  const writerStore = h.store()
  const core = writerStore.get({ name: 'target' })
  await core.ready()
  const topic = core.discoveryKey as Buffer

  const victim = h.networker(writerStore, { maxMessageSize: 1024 })
  const chat = victim.registerExtension<{ text: string }>('chat', { encoding: 'json' })
  const incidents: NetworkerError[] = []
  victim.errors$.subscribe((err) => incidents.push(err))
  await victim.configure(topic, { announce: true, lookup: false })

  const hostile = hostilePeer((conn, mux) => {
    // First what makes it a peer: the keep-alive channel answered (data has crossed both ways).
    const keepAlive = mux.createChannel({ protocol: KEEPALIVE_PROTOCOL, messages: [{ encoding: c.raw }] })
    keepAlive?.open()
    // Hundreds of channels nobody on the other side knows.
    for (let i = 0; i < 300; i++) mux.createChannel({ protocol: `junk-${i}` })?.open()
    // Garbage on every message type of an extension channel we do know.
    const ext = mux.createChannel({
      protocol: EXTENSION_PROTOCOL,
      id: Buffer.from('chat'),
      messages: [{ encoding: c.raw }, { encoding: c.raw }, { encoding: c.raw }, { encoding: c.raw }]
    })
    ext?.open()
    ext?.messages[2].send(Buffer.from([0xff])) // a truncated resume
    ext?.messages[1].send(Buffer.alloc(0)) // an empty ack
    ext?.messages[2].send(encodeResume(0, 1)) // then a valid one (data before it breaks the protocol: hostile-lanes.test.ts)
    ext?.messages[0].send(Buffer.from('{not json'))
    ext?.messages[0].send(Buffer.alloc(4096, 1)) // over the victim's maxMessageSize
    ext?.messages[3].send(Buffer.from('a message type that does not exist'))
    // A flood within the window (beyond it is a protocol violation: hostile-lanes.test.ts).
    for (let i = 0; i < 4000; i++) ext?.messages[0].send(Buffer.from('{"flood":true}'))
    keepAlive?.messages[0].send(Buffer.from([0xfd])) // a truncated uint
  })
  hostile.join(topic, { server: false, client: true })

  // An honest reader joins at the same time and must replicate everything.
  const readerStore = h.store()
  const reader = h.networker(readerStore)
  const readerChat = reader.registerExtension<{ text: string }>('chat', { encoding: 'json' })
  await reader.configure(topic, { announce: false, lookup: true })
  await waitForPeers(victim, 2)
  await core.append(Array.from({ length: 50 }, (_, i) => Buffer.from(`block ${i}`)))

  const codes = (): Set<string> => new Set(incidents.map((e) => e.code))
  await until(() => codes().has('ERR_DECODE') && codes().has('ERR_MESSAGE_TOO_LARGE'), 15_000, 'incidents')
  await sleep(300)
  expect(codes()).toEqual(new Set(['ERR_DECODE', 'ERR_MESSAGE_TOO_LARGE']))
  expect(incidents.every((e) => typeof e.remoteKey === 'string' && e.remoteKey.length === 64)).toBe(true)

  // The honest peer still replicates every block and can still talk.
  const clone = readerStore.get({ key: core.key as Buffer })
  await clone.ready()
  for (let i = 0; i < 50; i++) expect((await clone.get(i))?.toString()).toBe(`block ${i}`)
  const [victimPeer] = await waitForPeers(reader, 1)
  const arrived = waitFor(chat.messages$, ({ message }) => message.text === 'still here')
  readerChat.send({ text: 'still here' }, victimPeer)
  await arrived
  // The flood itself was delivered, not an error: the hostile peer is a peer like any other.
  expect(victim.closed).toBe(false)
})
