import { IdleWatchdog, TIMED_OUT, Watchable } from '../../lib/idle-watchdog'

/** A connection the test feeds bytes to by hand. */
function stream(): Watchable & { rawBytesRead: number; rawStream: { packetsReceived: number; rtt: number }; destroyed: boolean; reason: Error | null } {
  const s = {
    rawBytesRead: 0,
    rawStream: { packetsReceived: 0, rtt: 0 },
    destroyed: false,
    reason: null as Error | null,
    destroy(err?: Error) {
      s.destroyed = true
      s.reason = err ?? null
    }
  }
  return s
}

describe('IdleWatchdog', () => {
  let clock = 0
  let dog: IdleWatchdog
  beforeEach(() => {
    clock = 0
    dog = new IdleWatchdog(100, () => clock)
  })
  afterEach(() => dog.stop())

  const advance = (ms: number, step = 100): void => {
    for (let t = 0; t < ms; t += step) {
      clock += step
      dog.check()
    }
  }

  it('destroys a connection after its budget of silence, counted from the last frame', () => {
    const s = stream()
    dog.watch(s, 1000)
    advance(600)
    s.rawBytesRead += 17 // a keep-alive
    advance(900)
    expect(s.destroyed).toBe(false)
    advance(200)
    expect(s.destroyed).toBe(true)
    expect(s.reason?.message).toBe(TIMED_OUT)
    expect(dog.size).toBe(0)
  })

  it('does not count a stall of this process: one late tick credits at most two periods', () => {
    const s = stream()
    dog.watch(s, 1000)
    advance(300)
    clock += 5000 // the event loop was blocked for 5 s
    dog.check()
    expect(s.destroyed).toBe(false)
    s.rawBytesRead += 17 // what the remote sent meanwhile, read right after the stall
    advance(900)
    expect(s.destroyed).toBe(false)
  })

  it('gives no verdict on a late tick: the frames that arrived during the stall are read after it', () => {
    const s = stream()
    dog.watch(s, 1000)
    advance(800) // 800 ms of real silence
    clock += 600 // a stall: the budget is spent, but this tick is late
    dog.check()
    expect(s.destroyed).toBe(false)
    s.rawBytesRead += 17 // read right after the late tick
    advance(100)
    expect(s.destroyed).toBe(false)
    // Really silent from here: dropped once past the budget and the allowance for that stall.
    advance(1000)
    expect(s.destroyed).toBe(false)
    advance(1500)
    expect(s.destroyed).toBe(true)
  })

  it('counts transport packets as life only once asked to (after the handshake), and never before', () => {
    const early = stream()
    dog.watch(early, 1000)
    for (let t = 0; t < 1100; t += 100) {
      early.rawStream.packetsReceived++ // acknowledgements from a peer that never answers
      clock += 100
      dog.check()
    }
    expect(early.destroyed).toBe(true)
    const answered = stream()
    dog.watch(answered, 1000, true)
    for (let t = 0; t < 3000; t += 100) {
      answered.rawStream.packetsReceived++ // frames held back behind a lost one, or acks
      clock += 100
      dog.check()
    }
    expect(answered.destroyed).toBe(false)
    advance(1100)
    expect(answered.destroyed).toBe(true)
  })

  it('adds twice the recent stalls of this process to every budget, a memory that halves every 10 s', () => {
    advance(200)
    expect(dog.allowance).toBe(0)
    const s = stream()
    dog.watch(s, 1000)
    clock += 1100 // a 1 s stall (the tick came 1,000 ms late)
    dog.check()
    expect(dog.allowance).toBeCloseTo(2000, -1)
    advance(2300)
    expect(s.destroyed).toBe(false) // 1,000 budget + ~1,700 allowance (decaying) not spent yet
    advance(700)
    expect(s.destroyed).toBe(true)
    advance(60_000)
    expect(dog.allowance).toBeLessThan(40)
  })

  it('tells its listeners of each stall longer than it recently had (from 100 ms), and of no other', () => {
    const stalls: number[] = []
    const off = dog.onStall((ms) => stalls.push(ms))
    dog.watch(stream(), 100_000) // the timer runs while something is watched
    advance(500)
    clock += 150 // a 50 ms stall: too short to tell
    dog.check()
    clock += 700 // 600 ms
    dog.check()
    clock += 400 // 300 ms: shorter than the memory of the last one
    dog.check()
    advance(30_000) // the memory halves every 10 s: 600 ms is 75 ms now
    clock += 400 // 300 ms again: now longer than what is remembered
    dog.check()
    expect(stalls).toEqual([600, 300])
    off()
    clock += 5000
    dog.check()
    expect(stalls).toEqual([600, 300])
  })

  it("stretches a connection's budget by twice the stall its remote reported, decaying like its own", () => {
    const told = stream()
    const other = stream()
    dog.watch(told, 1000, true)
    dog.watch(other, 1000, true)
    dog.remoteStalled(told, 1000) // the remote was stalled 1 s: 2 s more for it alone
    advance(1100)
    expect(other.destroyed).toBe(true)
    expect(told.destroyed).toBe(false)
    advance(1300)
    expect(told.destroyed).toBe(false) // at 2.4 s: 1,000 + ~1,690 (decayed) not spent yet
    advance(400)
    expect(told.destroyed).toBe(true)
    // A report on a connection that is not watched is ignored.
    dog.remoteStalled(stream(), 1000)
    expect(dog.size).toBe(0)
  })

  it("adds the transport's round trip to an answered connection's budget, up to four budgets, and not before it answered", () => {
    const slow = stream()
    slow.rawStream.rtt = 1500 // acknowledgements take 1.5 s: a lost packet is resent after longer
    dog.watch(slow, 1000, true)
    const early = stream()
    early.rawStream.rtt = 1500
    dog.watch(early, 1000)
    advance(1100)
    expect(early.destroyed).toBe(true)
    advance(1300)
    expect(slow.destroyed).toBe(false) // 2.4 s of 2.5
    advance(200)
    expect(slow.destroyed).toBe(true)
    const capped = stream()
    capped.rawStream.rtt = 60_000
    dog.watch(capped, 1000, true)
    advance(4900)
    expect(capped.destroyed).toBe(false)
    advance(200)
    expect(capped.destroyed).toBe(true) // 1 s + at most 4 s
  })

  it('still drops a dead remote within budget + one tick when ticks are on time', () => {
    const s = stream()
    dog.watch(s, 1000)
    let ticks = 0
    while (!s.destroyed) {
      clock += 100
      dog.check()
      ticks++
    }
    expect(ticks * 100).toBeLessThanOrEqual(1100)
  })

  it('gives a connection that has not answered a deadline: whatever it receives, onexpire once the budget is spent; the watchdog itself destroys nothing', () => {
    const mute = stream()
    let expired = 0
    dog.handshake(mute, 1000, () => expired++)
    for (let t = 0; t < 900; t += 100) {
      mute.rawBytesRead += 17 // its transport keeps alive, but it never answers
      mute.rawStream.packetsReceived++
      clock += 100
      dog.check()
    }
    expect(expired).toBe(0)
    advance(200)
    expect(expired).toBe(1)
    expect(mute.destroyed).toBe(false)
    expect(dog.size).toBe(0)
    advance(1000)
    expect(expired).toBe(1)
  })

  it('does not count a stall of this process against the handshake deadline', () => {
    const slow = stream()
    let expired = 0
    dog.handshake(slow, 1000, () => expired++)
    advance(500)
    clock += 5000 // the event loop was blocked for 5 s
    dog.check()
    expect(expired).toBe(0)
  })

  it('ends the deadline once the remote answers: with watch, silence counts from then; with unwatch, nothing more', () => {
    const answered = stream()
    const plain = stream()
    let expired = 0
    dog.handshake(answered, 1000, () => expired++)
    dog.handshake(plain, 1000, () => expired++)
    advance(900)
    answered.rawBytesRead += 40 // the channel opened
    dog.watch(answered, 500, true)
    dog.unwatch(plain)
    advance(400)
    expect(answered.destroyed).toBe(false) // 400 ms of silence since the answer, not 1,300
    advance(200)
    expect(answered.destroyed).toBe(true)
    expect(answered.reason?.message).toBe(TIMED_OUT)
    expect(plain.destroyed).toBe(false)
    expect(expired).toBe(0)
  })

  it('re-budgets a watched connection, forgets destroyed and unwatched ones, and stops its timer when empty', () => {
    const a = stream()
    const b = stream()
    dog.watch(a, 5000)
    dog.watch(b, 5000)
    dog.watch(a, 200) // the handshake answered: now the timeout itself
    advance(300)
    expect(a.destroyed).toBe(true)
    b.destroyed = true
    dog.check()
    expect(dog.size).toBe(0)
    const c = stream()
    dog.watch(c, 100)
    dog.unwatch(c)
    expect(dog.size).toBe(0)
    advance(500)
    expect(c.destroyed).toBe(false)
  })
})
