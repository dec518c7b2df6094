/**
 * The `/prometheus` entry on real parts: networkers on the loopback testnet, real Corestores, a
 * real prom-client registry; what a scrape shows against `metrics()` at the same instant.
 */
import b4a from 'b4a'
import { Registry } from 'prom-client'
import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import { ErrorCodes, NetworkerError } from '../../lib/errors'
import { PEER_LABEL_HEX_CHARS, registerPrometheus } from '../../lib/prometheus'
import type { RegistryLike } from '../../lib/prometheus'
import { createHarness, Harness, randomTopic, until, waitForPeers } from '../kit'

let h: Harness
beforeEach(async () => {
  h = await createHarness()
})
afterEach(async () => {
  await h.cleanup()
})

type Json = MetricObjectWithValues<MetricValue<string>>[]

/** The value of series `name` with `labels` (a subset) in a `getMetricsAsJSON()` result. */
function valueOf(json: Json, name: string, labels: Record<string, string> = {}): number | undefined {
  const metric = json.find((m) => m.name === name)
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))
  return value?.value
}

describe('bad input', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object without the registry members', { metrics: () => Promise.resolve('') }]
  ])('a registry that is %s: ERR_INVALID_OPTION', (_what, registry) => {
    const n = h.networker()
    let error: unknown
    try {
      registerPrometheus(n, registry as unknown as RegistryLike)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(NetworkerError)
    expect((error as NetworkerError).code).toBe(ErrorCodes.ERR_INVALID_OPTION)
    expect((error as NetworkerError).message).toMatch(/registry/)
  })

  it('a registry that already holds a networker’s series: ERR_INVALID_OPTION, the first registration untouched', () => {
    const registry = new Registry()
    const first = registerPrometheus(h.networker(), registry)
    expect(() => registerPrometheus(h.networker(), registry)).toThrow(expect.objectContaining({ code: ErrorCodes.ERR_INVALID_OPTION }))
    expect(registry.getSingleMetric('basestore_networker_peers')).toBeDefined()
    first.stop()
  })

  it('a store that is not a Corestore, or a networker that is not one: ERR_INVALID_OPTION', () => {
    const n = h.networker()
    expect(() => registerPrometheus(n, new Registry(), { store: {} })).toThrow(expect.objectContaining({ code: ErrorCodes.ERR_INVALID_OPTION }))
    expect(() => registerPrometheus({} as never, new Registry())).toThrow(expect.objectContaining({ code: ErrorCodes.ERR_INVALID_OPTION }))
  })
})

test('a scrape shows the numbers metrics() shows at the same instant: swarm, topics, per-peer bytes, extension traffic', async () => {
  const storeA = h.store()
  const a = h.networker(storeA)
  const b = h.networker()
  const registry = new Registry()
  const registration = registerPrometheus(a, registry, { store: storeA })
  const chatA = a.registerExtension('chat', { encoding: 'utf-8' })
  const chatB = b.registerExtension('chat', { encoding: 'utf-8' })
  const received: string[] = []
  chatB.messages$.subscribe(({ message }) => received.push(message))
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: false })
  await b.configure(topic, { announce: false, lookup: true })
  const [peerAtA] = await waitForPeers(a, 1)
  for (let i = 0; i < 7; i++) chatA.send(`hello ${i}`, peerAtA)
  await until(() => received.length === 7, 10_000, 'seven messages')

  // prom-client calls every collect in the same turn as metrics(): the same sample.
  const scraping = registry.getMetricsAsJSON()
  const m = a.metrics()
  const json = (await scraping) as Json
  const peerKey = b4a.toString(peerAtA.remotePublicKey, 'hex')
  const label = peerKey.slice(0, PEER_LABEL_HEX_CHARS)
  const expected: Array<[string, Record<string, string>, number]> = [
    ['basestore_networker_peers', {}, m.swarm.peers],
    ['basestore_networker_connections', {}, m.swarm.connections],
    ['basestore_networker_connecting', {}, m.swarm.connecting],
    ['basestore_networker_queued', {}, m.swarm.queued],
    ['basestore_networker_connections_attempted_total', {}, m.swarm.attempted],
    ['basestore_networker_connections_opened_total', {}, m.swarm.opened],
    ['basestore_networker_connections_closed_total', {}, m.swarm.closed],
    ['basestore_networker_handshake_timeouts_total', {}, m.swarm.handshakeTimeouts],
    ['basestore_networker_refused_over_max_peers_total', {}, m.swarm.refusedOverMaxPeers],
    ['basestore_networker_swaps_total', {}, m.swarm.swaps],
    ['basestore_networker_topics_joined', {}, 1],
    ['basestore_networker_topics_flushed', {}, 1],
    ['basestore_networker_peer_bytes_received_total', { peer: label }, m.peers[peerKey].bytesIn],
    ['basestore_networker_peer_bytes_sent_total', { peer: label }, m.peers[peerKey].bytesOut],
    ['basestore_networker_peer_rtt_seconds', { peer: label }, (m.peers[peerKey].transport?.rtt ?? NaN) / 1000],
    ['basestore_networker_extension_messages', { extension: 'chat', kind: 'sent' }, m.peers[peerKey].extensions.chat.sent],
    ['basestore_networker_extension_messages', { extension: 'chat', kind: 'received' }, 0]
  ]
  const shown = expected.map(([name, labels]) => [name, labels, valueOf(json, name, labels)])
  expect(shown).toEqual(expected)
  expect(m.swarm.peers).toBe(1)
  expect(m.peers[peerKey].bytesOut).toBeGreaterThan(0)
  expect(m.peers[peerKey].extensions.chat.sent).toBe(7)

  // What Holepunch's modules measure is there too, on the caller's registry (not the default one).
  expect(valueOf(json, 'hyperswarm_nr_peers')).toBe(1)
  expect(json.some((metric) => metric.name.startsWith('dht_'))).toBe(true)
  expect(json.some((metric) => metric.name === 'hypercore_total_cores')).toBe(true)
  expect((await new Registry().getMetricsAsJSON()).length).toBe(0)
  registration.stop()
})

test('per-peer series are bounded: one per connected peer (at most maxPeers), dropped when the peer leaves', async () => {
  const a = h.networker(undefined, { maxPeers: 2 })
  const registry = new Registry()
  registerPrometheus(a, registry)
  const topic = randomTopic()
  await a.configure(topic, { announce: true, lookup: false })
  const others = [h.networker(), h.networker(), h.networker()]
  await Promise.all(others.map((o) => o.configure(topic, { announce: false, lookup: true, flush: false })))
  await waitForPeers(a, 2)
  const peerSeries = async (): Promise<number> =>
    ((await registry.getMetricsAsJSON()) as Json).find((m) => m.name === 'basestore_networker_peer_bytes_sent_total')?.values.length ?? -1
  expect(await peerSeries()).toBe(a.metrics().swarm.peers)
  expect(await peerSeries()).toBeLessThanOrEqual(2)
  await Promise.all(others.map((o) => o.close()))
  await until(() => a.peers.length === 0, 20_000, 'the peers to leave')
  expect(await peerSeries()).toBe(0)
})

test('close(): a scrape during it does not throw, and every series leaves the registry (stop() too)', async () => {
  const storeA = h.store()
  const a = h.networker(storeA)
  const registry = new Registry()
  const registration = registerPrometheus(a, registry, { store: storeA })
  await a.listen()
  const before = registration.names.length
  expect(registration.names).toContain('hyperswarm_nr_peers')
  expect(registration.names).toContain('hypercore_total_cores')
  // One scrape begun before close() (its async collects finish during it), one begun during it.
  const scrapes: Promise<unknown>[] = [registry.metrics()]
  const closing = a.close()
  scrapes.push(registry.metrics(), registry.getMetricsAsJSON())
  await closing
  await expect(Promise.all(scrapes)).resolves.toBeDefined()
  expect(before).toBeGreaterThan(20)
  expect(registry.getMetricsAsArray()).toHaveLength(0)
  expect(await registry.metrics()).toBe('\n')

  const b = h.networker()
  const second = registerPrometheus(b, registry)
  expect(registry.getMetricsAsArray().length).toBeGreaterThan(0)
  second.stop()
  second.stop()
  expect(registry.getMetricsAsArray()).toHaveLength(0)
  // Registering on a registry the stopped one left is allowed again.
  registerPrometheus(b, registry).stop()
})
