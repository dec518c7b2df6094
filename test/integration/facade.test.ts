import { Networker } from '../../lib/facade'
import type { Peer } from '../../lib/peer'
import { createHarness, Harness, randomTopic } from '../helpers'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

function legacy(opts = {}): Networker {
  const networker = new Networker(h.store(), { ...h.net.swarmOptions(), ...opts })
  h.onCleanup(() => networker.close())
  return networker
}

test('two lookup-only peers send hello and world inside peer-add; the announcer gets both, in order, from the right key', async () => {
  const topic = randomTopic()
  const announcer = legacy()
  const received: Array<{ message: string; from: string }> = []
  const got = new Promise<void>((resolve) => {
    announcer.registerExtension<string>('test-extension', {
      encoding: 'utf-8',
      onmessage: (message, peer) => {
        received.push({ message, from: peer.remotePublicKey.toString('hex') })
        if (received.length === 4) resolve()
      }
    })
  })
  const senders = [legacy(), legacy()]
  for (const sender of senders) {
    const ext = sender.registerExtension<string>('test-extension', { encoding: 'utf-8' })
    sender.on('peer-add', (peer: Peer) => {
      ext.send('hello', peer)
      ext.send('world', peer)
    })
  }
  await announcer.configure(topic, { announce: true, lookup: false })
  for (const sender of senders) await sender.configure(topic, { announce: false, lookup: true })
  await got
  for (const sender of senders) {
    const key = sender.reactive.publicKey?.toString('hex')
    expect(received.filter((r) => r.from === key).map((r) => r.message)).toEqual(['hello', 'world'])
  }
})
