import { afterEach, describe, expect, it } from 'vitest'
import type { Fanout, FanoutEvents } from '@quire/server'
import { createRedisFanout, type RedisFanout, type RedisFanoutOptions } from '@quire/redis'
import { createTestRedisPrefix, withRedis, type TestRedisPrefix } from '@quire/testkit'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Events extends FanoutEvents {
  readonly resyncs: number
  readonly gone: string[]
  readonly followedRooms: string[]
  readonly caughtUpRooms: string[]
}

function recordEvents(): Events {
  const events = {
    resyncs: 0,
    gone: [] as string[],
    followedRooms: [] as string[],
    caughtUpRooms: [] as string[],
    resync() {
      events.resyncs++
    },
    cloneGone(clone: string) {
      events.gone.push(clone)
    },
    followed(doc: string) {
      events.followedRooms.push(doc)
    },
    catchUp(doc: string) {
      events.caughtUpRooms.push(doc)
    }
  }
  return events
}

/** A stream's entries, as `clone:kind` or `clone:frames`, and the room when it is not "room". */
async function entriesOf(redis: TestRedisPrefix, key: string): Promise<string[]> {
  const entries = (await withRedis((r) => r.xrange(`${redis.prefix}${key}`, '-', '+'))) as [string, string[]][]
  return entries.map(([, fields]) => `${fields[1]}:${fields[4] === 'k' ? fields[5] : 'frames'}${fields[3] === 'room' ? '' : `@${fields[3]}`}`)
}

/** The stream every clone reads (open, close, broadcasts). */
const roomsOf = (redis: TestRedisPrefix): Promise<string[]> => entriesOf(redis, 'rooms')
/** What other clones sent to `clone` (answers, frames). */
const inboxOf = (redis: TestRedisPrefix, clone: string): Promise<string[]> => entriesOf(redis, `inbox:${clone}`)

async function startFanout(redis: TestRedisPrefix, options: Partial<RedisFanoutOptions> = {}, events: FanoutEvents = recordEvents()): Promise<RedisFanout> {
  const fanout = createRedisFanout({ url: redis.url, prefix: redis.prefix, ...options })
  cleanups.push(() => fanout.close())
  fanout.start(events)
  expect(await fanout.whenConnected(5000)).toBe(true)
  return fanout
}

function ownPrefix(): TestRedisPrefix {
  const redis = createTestRedisPrefix('fanout')
  cleanups.push(() => redis.clear())
  return redis
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const started = Date.now()
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function subscribeAll(fanout: Fanout, doc: string, position: string): Array<{ frames: number[][]; clone: string }> {
  const received: Array<{ frames: number[][]; clone: string }> = []
  fanout.subscribe(doc, position, (frames, clone) => received.push({ frames: frames.map((f) => [...f]), clone }))
  return received
}

describe('clone traffic on Redis Streams', () => {
  it('delivers what one clone publishes to the others with the room open, in order, never back to the publisher', async () => {
    const redis = ownPrefix()
    const [eventsAtA, eventsAtB] = [recordEvents(), recordEvents()]
    const [a, b] = await Promise.all([startFanout(redis, { cloneId: 'a' }, eventsAtA), startFanout(redis, { cloneId: 'b' }, eventsAtB)])
    const atA = subscribeAll(a, 'room', await a.position('room'))
    const atB = subscribeAll(b, 'room', await b.position('room'))
    const elsewhere = subscribeAll(b, 'other room', await b.position('other room'))
    // Each has heard the other answer (`here`): each publishes for the other from then on.
    await until(() => eventsAtA.caughtUpRooms.includes('room') && eventsAtB.caughtUpRooms.includes('room'), 'a and b know of each other')
    for (let i = 0; i < 20; i++) a.publish('room', [Uint8Array.of(i), Uint8Array.of(i, i)])
    b.publish('room', [Uint8Array.of(99)])
    await until(() => atB.length === 20 && atA.length === 1, `b has ${atB.length} of 20, a has ${atA.length} of 1`)
    expect(atB.map((entry) => entry.frames)).toEqual(Array.from({ length: 20 }, (_, i) => [[i], [i, i]]))
    expect(atB.every((entry) => entry.clone === 'a')).toBe(true)
    expect(atA).toEqual([{ frames: [[99]], clone: 'b' }])
    expect(elsewhere).toEqual([])
  })

  it('delivers from the position taken, so what was published before it is not delivered twice and nothing after it is missed', async () => {
    const redis = ownPrefix()
    const [a, b] = await Promise.all([startFanout(redis, { cloneId: 'a' }), startFanout(redis, { cloneId: 'b' })])
    a.publish('room', [Uint8Array.of(1)])
    await until(async () => (await b.position('room')) !== '0-0', 'the first entry is in the stream')
    const position = await b.position('room')
    a.publish('room', [Uint8Array.of(2)])
    // Subscribed late, from the position taken before the second entry.
    await new Promise((resolve) => setTimeout(resolve, 50))
    const atB = subscribeAll(b, 'room', position)
    await until(() => atB.length === 1, 'the second entry arrives')
    expect(atB[0]?.frames).toEqual([[2]])
  })

  it('publishes nothing for a room no other clone has open; one that opens it is answered, and both catch up once', async () => {
    const redis = ownPrefix()
    const [eventsAtA, eventsAtB] = [recordEvents(), recordEvents()]
    const [a, b] = await Promise.all([startFanout(redis, { cloneId: 'a' }, eventsAtA), startFanout(redis, { cloneId: 'b' }, eventsAtB)])
    subscribeAll(a, 'room', await a.position('room'))
    for (let i = 0; i < 5; i++) a.publish('room', [Uint8Array.of(i)])
    await until(async () => (await roomsOf(redis)).length > 0, 'the open mark is in the stream')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await roomsOf(redis)).toEqual(['a:open'])
    expect((await redis.keys()).filter((key) => key.includes(':inbox:'))).toEqual([])

    const atB = subscribeAll(b, 'room', await b.position('room'))
    await until(() => eventsAtA.caughtUpRooms.length > 0 && eventsAtB.caughtUpRooms.length > 0, 'both heard an answer')
    // a answered b's open; b, new to a, answered back. Each was told to show its presence once.
    expect(await roomsOf(redis)).toEqual(['a:open', 'b:open'])
    expect([await inboxOf(redis, 'a'), await inboxOf(redis, 'b')]).toEqual([['b:here'], ['a:here']])
    expect([eventsAtA.followedRooms, eventsAtB.followedRooms]).toEqual([['room'], ['room']])
    expect([eventsAtA.caughtUpRooms, eventsAtB.caughtUpRooms]).toEqual([['room'], ['room']])
    a.publish('room', [Uint8Array.of(7)])
    await until(() => atB.length === 1, 'b receives what a publishes now')
    expect(atB[0]).toEqual({ frames: [[7]], clone: 'a' })
    // To b's inbox only: a's reader does not wake for its own frames.
    expect(await inboxOf(redis, 'b')).toEqual(['a:here', 'a:frames'])
    expect(await inboxOf(redis, 'a')).toEqual(['b:here'])

    // b closes the room: a stops publishing for it; a deletion still goes out, to every clone.
    b.unsubscribe('room')
    await until(async () => (await roomsOf(redis)).includes('b:close'), 'the close mark is in the stream')
    await new Promise((resolve) => setTimeout(resolve, 50))
    a.publish('room', [Uint8Array.of(8)])
    a.publish('room', [Uint8Array.of(9)], { toEveryClone: true })
    await until(async () => (await roomsOf(redis)).length === 4, 'the deletion is in the stream')
    expect(await roomsOf(redis)).toEqual(['a:open', 'b:open', 'b:close', 'a:frames'])
    expect(await inboxOf(redis, 'b')).toEqual(['a:here', 'a:frames'])
  })

  it('stops publishing for a clone that died with the room open', async () => {
    const redis = ownPrefix()
    const eventsAtB = recordEvents()
    const b = await startFanout(redis, { cloneId: 'b', heartbeatMs: 100 }, eventsAtB)
    subscribeAll(b, 'room', await b.position('room'))
    // A clone "a" that beat once and opened the room, then died (kill -9: no close mark).
    await withRedis(async (r) => {
      await r.set(`${redis.prefix}clone:a`, '1', 'PX', 300)
      await r.zadd(`${redis.prefix}clones`, Date.now(), 'a')
      await r.xadd(`${redis.prefix}rooms`, '*', 'c', 'a', 'r', 'room', 'k', 'open')
    })
    await until(() => eventsAtB.followedRooms.length === 1, 'b follows a')
    b.publish('room', [Uint8Array.of(1)])
    await until(async () => (await inboxOf(redis, 'a')).includes('b:frames'), 'b publishes for a')
    await until(() => eventsAtB.gone.length > 0, 'b hears that a is gone', 3000)
    b.publish('room', [Uint8Array.of(2)])
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await inboxOf(redis, 'a')).toEqual(['b:here', 'b:frames'])
  })

  it('a clone taken for dead (its heartbeat lapsed) announces its rooms again, and the others publish for it again', async () => {
    const redis = ownPrefix()
    const [eventsAtA, eventsAtB] = [recordEvents(), recordEvents()]
    const a = await startFanout(redis, { cloneId: 'a', heartbeatMs: 100 }, eventsAtA)
    const b = await startFanout(redis, { cloneId: 'b', heartbeatMs: 2000 }, eventsAtB)
    subscribeAll(a, 'room', await a.position('room'))
    const atB = subscribeAll(b, 'room', await b.position('room'))
    await until(() => eventsAtA.caughtUpRooms.includes('room') && eventsAtB.caughtUpRooms.includes('room'), 'a and b know of each other')
    // Just after b renewed it (it lives 6 s), b's heartbeat goes, as when b stalls past its life.
    const heartbeat = `${redis.prefix}clone:b`
    await until(async () => (await withRedis((r) => r.pttl(heartbeat))) > 5500, 'b has just beaten', 5000)
    await withRedis((r) => r.del(heartbeat))
    await until(() => eventsAtA.gone.includes('b'), 'a takes b for dead', 1500)
    a.publish('room', [Uint8Array.of(1)])
    // b's next beat, 2 s after the last, finds its heartbeat gone: b announces the room again.
    await until(() => eventsAtA.followedRooms.length === 2, 'a follows b again', 5000)
    a.publish('room', [Uint8Array.of(2)])
    await until(() => atB.length > 0, 'b receives what a publishes now')
    expect(atB).toEqual([{ frames: [[2]], clone: 'a' }])
  })

  it('publishes for a clone it receives frames from, and tells it with a here', async () => {
    const redis = ownPrefix()
    const eventsAtB = recordEvents()
    const b = await startFanout(redis, { cloneId: 'b' }, eventsAtB)
    const atB = subscribeAll(b, 'room', await b.position('room'))
    b.publish('room', [Uint8Array.of(1)])
    // A clone "x" that publishes to b without an answer of b's having reached it.
    await until(async () => (await roomsOf(redis)).includes('b:open'), 'b announced the room')
    await withRedis((r) => r.xadd(`${redis.prefix}inbox:b`, '*', 'c', 'x', 'r', 'room', 'f', Buffer.from([2])))
    await until(() => eventsAtB.followedRooms.length === 1, 'b follows x')
    expect(atB).toEqual([{ frames: [[2]], clone: 'x' }])
    b.publish('room', [Uint8Array.of(3)])
    await until(async () => (await inboxOf(redis, 'x')).length === 2, 'b publishes for x')
    // Told with a `here`, as any clone b starts publishing for: x catches up on what b committed before.
    expect(await inboxOf(redis, 'x')).toEqual(['b:here', 'b:frames'])
  })

  it('ignores entries it cannot read, and marks on the wrong stream', async () => {
    const redis = ownPrefix()
    const eventsAtB = recordEvents()
    const b = await startFanout(redis, { cloneId: 'b' }, eventsAtB)
    const atB = subscribeAll(b, 'room', await b.position('room'))
    await until(async () => (await roomsOf(redis)).includes('b:open'), 'b announced the room')
    await withRedis(async (r) => {
      await r.xadd(`${redis.prefix}inbox:b`, '*', 'x', 'y')
      await r.xadd(`${redis.prefix}inbox:b`, '*', 'c', 'x', 'r', 'room', 'k', 'open')
      await r.xadd(`${redis.prefix}rooms`, '*', 'c', 'x', 'r', 'room', 'k', 'here')
      await r.xadd(`${redis.prefix}inbox:b`, '*', 'c', 'x', 'r', 'room', 'f', Buffer.from([5]))
    })
    await until(() => atB.length === 1, 'the frames after them arrive')
    expect(atB).toEqual([{ frames: [[5]], clone: 'x' }])
    expect(eventsAtB.caughtUpRooms).toEqual([])
  })

  it('keeps streams to the retention window, and a stream nobody writes to goes away', async () => {
    const redis = ownPrefix()
    const retentionMs = 200
    const a = await startFanout(redis, { cloneId: 'a', retentionMs })
    // More entries than one stream node holds (100): trimming by MINID ~ drops whole nodes.
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 100; i++) a.publish('busy', [new Uint8Array(100)])
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const [key] = (await redis.keys()).filter((k) => k.endsWith(':rooms'))
    expect(key).toBeDefined()
    const length = await withRedis((r) => r.xlen(key as string))
    // 1,000 published; about the last retention window (~200 entries, plus a node) kept.
    expect(length).toBeLessThan(500)
    await until(async () => (await redis.keys()).every((k) => !k.endsWith(':rooms')), 'the idle stream expired', 3000)
  })

  it('tells a clone when another one stops beating, so the presence it brought can go', async () => {
    const redis = ownPrefix()
    const eventsAtB = recordEvents()
    const b = await startFanout(redis, { cloneId: 'b', heartbeatMs: 100 }, eventsAtB)
    const atB = subscribeAll(b, 'room', await b.position('room'))
    // A clone "a" that beat once and published presence, then died (kill -9: no goodbye).
    await withRedis(async (r) => {
      await r.set(`${redis.prefix}clone:a`, '1', 'PX', 300)
      await r.zadd(`${redis.prefix}clones`, Date.now(), 'a')
      await r.xadd(`${redis.prefix}inbox:b`, '*', 'c', 'a', 'r', 'room', 'f', Buffer.from([1]))
    })
    await until(() => atB.length === 1, 'the presence entry arrives')
    expect(eventsAtB.gone).toEqual([])
    await until(() => eventsAtB.gone.length > 0, 'b hears that a is gone', 3000)
    expect(eventsAtB.gone).toEqual(['a'])
  })

  it('knows the other clones from their heartbeats alone, and tells of each death once', async () => {
    const redis = ownPrefix()
    const heartbeatMs = 100
    // "a" died before "b" started: its rooms there are loaded after its last commit.
    const beat = (clone: string, ttlMs: number) =>
      withRedis(async (r) => {
        await r.set(`${redis.prefix}clone:${clone}`, '1', 'PX', ttlMs)
        await r.zadd(`${redis.prefix}clones`, Date.now(), clone)
      })
    await withRedis((r) => r.zadd(`${redis.prefix}clones`, Date.now(), 'a'))
    const eventsAtB = recordEvents()
    await startFanout(redis, { cloneId: 'b', heartbeatMs }, eventsAtB)
    // "c" never publishes anything and dies; later it is back (it was only cut off) and dies again.
    await beat('c', heartbeatMs * 3)
    await until(() => eventsAtB.gone.length === 1, 'b hears that c is gone', 3000)
    await new Promise((resolve) => setTimeout(resolve, heartbeatMs * 5))
    expect(eventsAtB.gone).toEqual(['c'])
    await beat('c', heartbeatMs * 3)
    await until(() => eventsAtB.gone.length === 2, 'b hears that c is gone again', 3000)
    expect(eventsAtB.gone).toEqual(['c', 'c'])
  })

  it('a clone that closes removes its heartbeat at once', async () => {
    const redis = ownPrefix()
    const a = createRedisFanout({ url: redis.url, prefix: redis.prefix, cloneId: 'a' })
    a.start(recordEvents())
    await a.whenConnected(5000)
    await until(async () => (await redis.keys()).includes(`${redis.prefix}clone:a`), 'a beats')
    await a.close()
    expect(await redis.keys()).not.toContain(`${redis.prefix}clone:a`)
  })

  it('honours the database number of the URL', async () => {
    const redis = ownPrefix()
    const url = `${redis.url.replace(/\/\d*$/, '')}/5`
    const a = createRedisFanout({ url, prefix: redis.prefix, cloneId: 'a' })
    a.start(recordEvents())
    cleanups.push(() => a.close())
    expect(await a.whenConnected(5000)).toBe(true)
    const heartbeat = `${redis.prefix}clone:a`
    await until(async () => (await withRedis((r) => r.select(5).then(() => r.exists(heartbeat)))) === 1, 'the heartbeat is in database 5')
    expect(await withRedis((r) => r.exists(heartbeat))).toBe(0)
    cleanups.push(() => withRedis((r) => r.select(5).then(() => r.del(heartbeat))).then(() => undefined))
  })
})
