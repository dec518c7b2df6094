import fc from 'fast-check'
import { Subject, VirtualTimeScheduler } from 'rxjs'
import { dedupeConnections } from '../../operators'
import type { ConnectionEvent, ConnectionLike, DedupeEvent } from '../../operators'

interface Conn extends ConnectionLike {
  readonly id: number
}

const LOCAL = Buffer.alloc(32, 0x80)
const REMOTES = [Buffer.alloc(32, 0x10), Buffer.alloc(32, 0x90), Buffer.alloc(32, 0xf0)]

type Command =
  | { readonly kind: 'open'; readonly remote: number; readonly isInitiator: boolean }
  | { readonly kind: 'close'; readonly pick: number }
  | { readonly kind: 'wait'; readonly ms: number }

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('open' as const), remote: fc.integer({ min: 0, max: 2 }), isInitiator: fc.boolean() }),
  fc.record({ kind: fc.constant('close' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 300 }) })
)

/**
 * Drives the operator with random open/close/duplicate sequences; the owner closes what the
 * operator drops, as the networker does.
 */
function run(commands: readonly Command[], graceTime: number): void {
  const scheduler = new VirtualTimeScheduler()
  const source = new Subject<ConnectionEvent<Conn>>()
  const open = new Set<Conn>()
  const peers = new Map<string, Conn>()
  let nextId = 0

  const close = (conn: Conn): void => {
    if (!open.delete(conn)) return
    source.next({ type: 'close', connection: conn })
  }
  const subscription = source.pipe(dedupeConnections<Conn>({ graceTime, scheduler })).subscribe((e: DedupeEvent<Conn>) => {
    switch (e.type) {
      case 'add':
        // At most one peer per key: an add only for a key without a peer.
        expect(peers.has(e.key)).toBe(false)
        peers.set(e.key, e.connection)
        break
      case 'swap':
        expect(peers.get(e.key)).toBe(e.previous)
        peers.set(e.key, e.connection)
        break
      case 'remove':
        // A remove only after an add, and for the peer's current connection.
        expect(peers.get(e.key)).toBe(e.connection)
        peers.delete(e.key)
        break
      case 'drop':
        close(e.connection)
        break
    }
  })

  for (const c of commands) {
    if (c.kind === 'open') {
      const conn: Conn = { id: nextId++, publicKey: LOCAL, remotePublicKey: REMOTES[c.remote], isInitiator: c.isInitiator }
      open.add(conn)
      source.next({ type: 'open', connection: conn })
    } else if (c.kind === 'close') {
      const all = [...open]
      if (all.length > 0) close(all[c.pick % all.length])
    } else {
      scheduler.maxFrames = scheduler.frame + c.ms
      scheduler.flush()
    }
  }
  scheduler.maxFrames = Infinity
  scheduler.flush()

  // Settled: the peers are exactly the keys with an open connection, each on one of them.
  const openKeys = new Set([...open].map((c) => Buffer.from(c.remotePublicKey).toString('hex')))
  expect(new Set(peers.keys())).toEqual(openKeys)
  for (const conn of peers.values()) expect(open.has(conn)).toBe(true)
  subscription.unsubscribe()
}

describe('dedupeConnections properties', () => {
  test('with a grace time: one peer per key, remove only after add, final set equals the open connections', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => run(commands, 100)),
      { numRuns: 500 }
    )
  })

  test('without a grace time: the same invariants', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => run(commands, 0)),
      { numRuns: 500 }
    )
  })
})
