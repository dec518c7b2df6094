import type { Duplex } from 'stream'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import type Corestore from 'corestore'
import { Subject, VirtualTimeScheduler } from 'rxjs'
import { Connections } from '../../lib/connections'
import type { ExtensionHub } from '../../lib/extensions'
import type { NetworkerError } from '../../lib/errors'
import type { SwarmSource } from '../../lib/swarm-source'
import type { ConnectionEvent } from '../../operators/types'

/**
 * How long connections that wait for their remote's answer hold a topic's flush: a flush waits
 * for `Connections.pending` to reach 0, and a run of such connections counts for at most one
 * handshake budget, so remotes whose connections keep overlapping cannot hold it for ever.
 * Real secret streams piped in memory (the remote end never reads: a mute peer); the run's clock
 * is a virtual scheduler, the handshake budget itself (real time) far away.
 */

const BUDGET = 60_000

/** Our end of a connection to a mute remote, once its Noise handshake is done. */
async function muteConnection(weDialled: boolean, streams: NoiseSecretStream[]): Promise<NoiseSecretStream> {
  const ours = new NoiseSecretStream(weDialled)
  const remote = new NoiseSecretStream(!weDialled)
  const raw = (stream: NoiseSecretStream): Duplex => stream.rawStream as unknown as Duplex
  raw(ours).pipe(raw(remote)).pipe(raw(ours))
  ours.on('error', () => {})
  remote.on('error', () => {})
  streams.push(ours, remote)
  await new Promise<void>((resolve) => ours.once('open', () => resolve()))
  return ours
}

describe('Connections: a run of connections waiting for an answer', () => {
  let scheduler: VirtualTimeScheduler
  let connections: Connections
  let raw: Subject<ConnectionEvent<NoiseSecretStream>>
  let updates: number
  const streams: NoiseSecretStream[] = []
  const errors: NetworkerError[] = []

  beforeEach(() => {
    scheduler = new VirtualTimeScheduler()
    raw = new Subject()
    updates = 0
    const source = {
      connections$: raw.asObservable(),
      update: () => updates++,
      topicsOf: () => [],
      ban: () => {}
    }
    // Never reached: none of these connections is admitted.
    const store = {} as unknown as Corestore
    const hub = {} as unknown as ExtensionHub
    connections = new Connections(store, hub, { handshakeTimeout: BUDGET, scheduler }, (err) => errors.push(err))
    connections.attach(source as unknown as SwarmSource)
  })
  afterEach(() => {
    connections.close()
    streams.splice(0).forEach((s) => s.destroy())
  })

  /** Runs the virtual clock's actions due by `frame`. */
  const advanceTo = (frame: number): void => {
    scheduler.maxFrames = frame
    scheduler.flush()
  }

  it('holds flushes for at most one handshake budget in a row; only connections we dialled (or whose remote we found) count', async () => {
    for (let i = 0; i < 3; i++) raw.next({ type: 'open', connection: await muteConnection(true, streams) })
    // A stranger dialling us: it holds a maxPeers slot, but no flush waits for it.
    raw.next({ type: 'open', connection: await muteConnection(false, streams) })
    expect(connections.pending).toBe(3)

    advanceTo(BUDGET - 1)
    expect(connections.pending).toBe(3)
    const before = updates
    advanceTo(BUDGET)
    // The run reached the budget: the swarm's progress is read again, and no flush waits more.
    expect(connections.pending).toBe(0)
    expect(updates).toBeGreaterThan(before)
    // One more joins the same run: it does not hold flushes either.
    raw.next({ type: 'open', connection: await muteConnection(true, streams) })
    expect(connections.pending).toBe(0)

    // Once none is waiting, the run is over; the next connection starts a new one.
    const ours = streams.filter((_, i) => i % 2 === 0)
    await Promise.all(ours.map((s) => new Promise((resolve) => s.once('close', resolve).destroy())))
    raw.next({ type: 'open', connection: await muteConnection(true, streams) })
    expect(connections.pending).toBe(1)
    expect(connections.handshakeTimeouts).toBe(0)
    expect(errors).toEqual([])
  })
})
