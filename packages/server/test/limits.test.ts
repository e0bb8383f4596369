import { connect as netConnect, type Socket as NetSocket } from 'node:net'
import { getHeapStatistics } from 'node:v8'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { WebSocket } from 'ws'
import { decodeMessage, encodeAwarenessUpdate, encodeMessage, type Message } from '@quire/protocol'
import { createTokenBucket, DEFAULT_LIMITS, type Log, type ServerOptions } from '@quire/server'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { spawnQuireServer, startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { createNewConnectionRate } from '../src/limits/new-connection-rate.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Every limit, one test each: exceeding it closes that connection (or refuses the
 * upgrade) with the documented code and a reason naming the limit, and the rest of the
 * server carries on. Limits are lowered per test so they trip fast; the defaults are
 * checked against a normal editing session at the end.
 */

const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function start(options: ServerOptions = {}): Promise<QuireServerFixture> {
  const server = await startQuireServer(options)
  cleanups.push(() => server.close())
  return server
}

interface Socket {
  readonly ws: WebSocket
  readonly messages: Message[]
  readonly closed: Promise<{ code: number; reason: string }>
  readonly opened: Promise<void>
  /** The TCP socket under the WebSocket, to stop reading from it. */
  tcp(): NetSocket
}

function openSocket(server: QuireServerFixture, room: string, headers: Record<string, string> = {}): Socket {
  let tcp: NetSocket | null = null
  const ws = new WebSocket(`${server.url}/${encodeURIComponent(room)}`, {
    perMessageDeflate: false,
    maxPayload: 1024 * 1024 * 1024,
    headers,
    // Our own TCP socket, so a test can pause it (a client that stops reading).
    createConnection: () => (tcp = netConnect(server.port, '127.0.0.1'))
  })
  const messages: Message[] = []
  ws.on('message', (data: Buffer) => {
    const decoded = decodeMessage(new Uint8Array(data))
    if (decoded.ok) messages.push(decoded.message)
  })
  ws.on('error', () => {})
  cleanups.push(() => ws.terminate())
  return {
    ws,
    messages,
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    opened: new Promise((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    }),
    tcp() {
      if (tcp === null) throw new Error('no TCP socket yet')
      return tcp
    }
  }
}

async function joined(socket: Socket): Promise<Socket> {
  await socket.opened
  await waitUntil(() => socket.messages.some((m) => m.type === 'sync-step-1'))
  return socket
}

/** How an upgrade ended: joined its room, or closed (a refusal) first. */
function outcomeOf(socket: Socket): Promise<'joined' | { code: number; reason: string }> {
  return Promise.race([joined(socket).then(() => 'joined' as const), socket.closed])
}

function client(server: QuireServerFixture, room: string): StockClient {
  const c = createStockClient(server.url, room)
  cleanups.push(() => c.destroy())
  return c
}

function textUpdate(doc: Y.Doc, text: string): Uint8Array {
  const before = Y.encodeStateVector(doc)
  doc.getText('t').insert(doc.getText('t').length, text)
  return Y.encodeStateAsUpdate(doc, before)
}

/** Proves the room and the process still work: a stock pair in `room` converges. */
async function expectRoomWorks(server: QuireServerFixture, room: string): Promise<void> {
  const a = client(server, room)
  const b = client(server, room)
  await a.synced()
  await b.synced()
  a.doc.getText('check').insert(0, 'still works')
  await waitUntil(() => b.doc.getText('check').toString() === 'still works')
  expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200)
}

describe('token bucket', () => {
  it('allows a burst up to its capacity, then the rate; refills with time, never above capacity', () => {
    let now = 0
    const bucket = createTokenBucket({ ratePerSecond: 10, capacity: 5, now: () => now })
    for (let i = 0; i < 5; i++) expect(bucket.take()).toBe(true)
    expect(bucket.take()).toBe(false)
    now += 100 // one token
    expect(bucket.take()).toBe(true)
    expect(bucket.take()).toBe(false)
    now += 60_000
    expect(bucket.available()).toBe(5)
    expect(bucket.take(6)).toBe(false)
    expect(bucket.take(5)).toBe(true)
  })

  it('refuses a non-positive rate or capacity', () => {
    expect(() => createTokenBucket({ ratePerSecond: 0, capacity: 1 })).toThrow(RangeError)
    expect(() => createTokenBucket({ ratePerSecond: 1, capacity: -1 })).toThrow(RangeError)
  })
})

describe('new connections per address', () => {
  it('each address has its own bucket: a burst, then the rate', () => {
    let now = 0
    const rate = createNewConnectionRate({ ratePerSecond: 2, burst: 3, now: () => now })
    expect([1, 2, 3, 4].map(() => rate.tryTake('192.0.2.1'))).toEqual([true, true, true, false])
    expect(rate.tryTake('192.0.2.2')).toBe(true)
    now += 500 // one token
    expect([rate.tryTake('192.0.2.1'), rate.tryTake('192.0.2.1')]).toEqual([true, false])
  })

  it('forgets addresses whose bucket refilled, so memory follows the recent addresses, not all ever seen', () => {
    let now = 0
    const rate = createNewConnectionRate({ ratePerSecond: 1, burst: 2, now: () => now })
    for (let i = 0; i < 5000; i++) rate.tryTake(`old-${i}`)
    expect(rate.size).toBe(5000)
    now += 2000 // every old bucket is full again
    for (let i = 0; i < 5000; i++) rate.tryTake(`new-${i}`)
    expect(rate.size, 'only the 5000 recent addresses, not all 10000 seen').toBe(5000)
    // A forgotten address starts from a full bucket, as it would have had.
    expect([rate.tryTake('old-1'), rate.tryTake('old-1'), rate.tryTake('old-1')]).toEqual([true, true, false])
  })
})

describe('per-connection rate limits close that connection with 1008 and a reason', () => {
  it('messages per second', async () => {
    const server = await start({ limits: { maxMessagesPerSecond: 10, messageBurst: 20 } })
    const flooder = await joined(openSocket(server, 'room'))
    for (let i = 0; i < 200; i++) flooder.ws.send(encodeMessage({ type: 'query-awareness' }))
    expect(await flooder.closed).toEqual({ code: 1008, reason: 'rate limit: more than 10 messages per second' })
    await expectRoomWorks(server, 'room')
  })

  it('bytes per second', async () => {
    const server = await start({ maxMessageBytes: 4096, limits: { maxBytesPerSecond: 1000, byteBurst: 1000 } })
    const flooder = await joined(openSocket(server, 'room'))
    const doc = new Y.Doc()
    for (let i = 0; i < 20; i++) flooder.ws.send(encodeMessage({ type: 'sync-update', update: textUpdate(doc, 'x'.repeat(1500)) }))
    expect(await flooder.closed).toEqual({ code: 1008, reason: 'rate limit: more than 1000 bytes per second' })
    await expectRoomWorks(server, 'room')
  })

  it('awareness updates per second', async () => {
    const server = await start({ limits: { maxAwarenessPerSecond: 5, awarenessBurst: 10 } })
    const flooder = await joined(openSocket(server, 'room'))
    for (let clock = 1; clock <= 100; clock++) {
      flooder.ws.send(encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate([{ clientId: 42, clock, state: `{"x":${clock}}` }]) }))
    }
    expect(await flooder.closed).toEqual({ code: 1008, reason: 'rate limit: more than 5 awareness updates per second' })
    await expectRoomWorks(server, 'room')
  })
})

/**
 * The sustained rates, not only the bursts: a client keeps sending past many bursts' worth
 * at just under the rate (never cut off) and at just over it (cut off, once more than the
 * burst went through). The rates are the documented defaults; only the bursts are made
 * small, so that "past the burst" takes a second or two instead of the default bursts'
 * five to ten.
 *
 * Under the limit the sender holds at most two frames (after a stall it does not catch
 * up), so the server never sees more than the rate plus a few frames in any window; over
 * the limit it catches up freely, which can only make the cut come sooner. Client and
 * server share this process's event loop, so a pause of the process pauses both.
 */
describe('sustained rates past the burst, at the documented defaults', () => {
  interface PacedRun {
    readonly sent: number
    readonly closed: { code: number; reason: string } | null
  }

  /**
   * Sends `frame(i)` at `framesPerSecond` until `stop(sent)` holds or the server closes
   * the socket. Without `catchUp` it never has more than two frames in hand: after a stall
   * it does not send what it missed. (Paced by its own clock arithmetic, not by the
   * server's token bucket, so a broken bucket cannot slow the sender down with it.)
   */
  async function pace(socket: Socket, framesPerSecond: number, catchUp: boolean, frame: (i: number) => Uint8Array, stop: (sent: number) => boolean): Promise<PacedRun> {
    let closed: { code: number; reason: string } | null = null
    void socket.closed.then((c) => (closed = c))
    const startedAt = performance.now()
    let last = startedAt
    let allowance = 0
    let sent = 0
    while (closed === null && !stop(sent)) {
      const now = performance.now()
      if (catchUp) allowance = ((now - startedAt) / 1000) * framesPerSecond - sent
      else allowance = Math.min(2, allowance + ((now - last) / 1000) * framesPerSecond)
      last = now
      for (; allowance >= 1 && closed === null && !stop(sent); allowance--) socket.ws.send(frame(sent++))
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return { sent, closed }
  }

  const seconds = (s: number) => {
    const end = performance.now() + s * 1000
    return () => performance.now() >= end
  }

  const UNDER = 0.85
  const OVER = 1.15
  const UNDER_FOR_SECONDS = 3

  async function expectUnderNeverCut(socket: Socket, burst: number, framesPerSecond: number, frame: (i: number) => Uint8Array): Promise<void> {
    const run = await pace(socket, framesPerSecond, false, frame, seconds(UNDER_FOR_SECONDS))
    expect(run.closed, `closed after ${run.sent} frames at ${framesPerSecond.toFixed(1)}/s`).toBeNull()
    expect(run.sent, 'frames sent: many bursts worth').toBeGreaterThan(5 * burst)
  }

  async function expectOverCut(socket: Socket, burst: number, framesPerSecond: number, frame: (i: number) => Uint8Array, reason: string): Promise<void> {
    // Bounded: at 1.15 times the rate, a burst of B frames is used up within 7 B / rate seconds.
    const run = await pace(socket, framesPerSecond, true, frame, seconds(15))
    expect(run.closed, `still open after ${run.sent} frames at ${framesPerSecond.toFixed(1)}/s`).toEqual({ code: 1008, reason })
    expect(run.sent, 'frames that went through before the cut: more than the burst').toBeGreaterThan(2 * burst)
  }

  const queryAwareness = encodeMessage({ type: 'query-awareness' })
  const MESSAGE_BURST = 20

  it('messages: 0.85 times 200 per second for 3 s stays connected; 1.15 times is cut off', async () => {
    const server = await start({ limits: { messageBurst: MESSAGE_BURST } })
    await expectUnderNeverCut(await joined(openSocket(server, 'r')), MESSAGE_BURST, UNDER * 200, () => queryAwareness)
    await expectOverCut(await joined(openSocket(server, 'r')), MESSAGE_BURST, OVER * 200, () => queryAwareness, 'rate limit: more than 200 messages per second')
  })

  // One 64 KiB update, sent again and again: the server reads and validates each copy
  // (the byte limit counts every frame before that), but stores it once.
  const bigUpdate = ((): Uint8Array => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'b'.repeat(64 * 1024))
    return encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) })
  })()
  const BYTE_BURST = 512 * 1024
  const DEFAULT_BYTES_PER_SECOND = 8 * 1024 * 1024

  it('bytes: 0.85 times 8 MiB per second for 3 s stays connected; 1.15 times is cut off', async () => {
    // The byte burst is never below the largest message: lower that too.
    const server = await start({ maxMessageBytes: 128 * 1024, limits: { byteBurst: BYTE_BURST } })
    const framesPerSecond = (bytesPerSecond: number) => bytesPerSecond / bigUpdate.byteLength
    const burstFrames = BYTE_BURST / bigUpdate.byteLength
    await expectUnderNeverCut(await joined(openSocket(server, 'r')), burstFrames, framesPerSecond(UNDER * DEFAULT_BYTES_PER_SECOND), () => bigUpdate)
    await expectOverCut(
      await joined(openSocket(server, 'r')),
      burstFrames,
      framesPerSecond(OVER * DEFAULT_BYTES_PER_SECOND),
      () => bigUpdate,
      `rate limit: more than ${DEFAULT_BYTES_PER_SECOND} bytes per second`
    )
  })

  const AWARENESS_BURST = 10
  const awarenessFrame = (clock: number) =>
    encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate([{ clientId: 42, clock: clock + 1, state: `{"cursor":${clock}}` }]) })

  it('awareness: 0.85 times 60 per second for 3 s stays connected; 1.15 times is cut off', async () => {
    const server = await start({ limits: { awarenessBurst: AWARENESS_BURST } })
    await expectUnderNeverCut(await joined(openSocket(server, 'r')), AWARENESS_BURST, UNDER * 60, awarenessFrame)
    await expectOverCut(await joined(openSocket(server, 'r')), AWARENESS_BURST, OVER * 60, awarenessFrame, 'rate limit: more than 60 awareness updates per second')
  })
})

describe('connection and room caps, checked at upgrade', () => {
  it('connections per IP: 1008 past the limit, and a closed connection frees its slot', async () => {
    const server = await start({ limits: { maxConnectionsPerIp: 3 } })
    const open = [await joined(openSocket(server, 'a')), await joined(openSocket(server, 'b')), await joined(openSocket(server, 'a'))]
    const refused = openSocket(server, 'c')
    expect(await refused.closed).toEqual({ code: 1008, reason: 'too many connections from your address (limit 3)' })
    open[0]!.ws.close()
    await open[0]!.closed
    // The slot is released when the server sees the socket close; poll until a new one gets in.
    let admitted: Socket | null = null
    for (let attempt = 0; attempt < 100 && admitted === null; attempt++) {
      const candidate = openSocket(server, 'c')
      const outcome = await Promise.race([joined(candidate).then(() => 'open' as const), candidate.closed.then(() => 'closed' as const)])
      if (outcome === 'open') admitted = candidate
    }
    expect(admitted).not.toBeNull()
  })

  // A rate of one token per 100 s: nothing refills while the test runs.
  const NO_REFILL = 0.01

  it('new connections per address: 1013 try again later past the burst, naming the limit', async () => {
    const server = await start({ limits: { maxNewConnectionsPerSecondPerIp: NO_REFILL, newConnectionBurstPerIp: 3 } })
    for (const room of ['a', 'b', 'c']) {
      const socket = await joined(openSocket(server, room))
      socket.ws.close()
      await socket.closed
    }
    expect(await outcomeOf(openSocket(server, 'd'))).toEqual({ code: 1013, reason: 'try again later: more than 0.01 new connections per second from your address' })
  })

  it('a refusal for the rate holds no open slot, and one for the open cap spends no token', async () => {
    const server = await start({ limits: { maxConnectionsPerIp: 2, maxNewConnectionsPerSecondPerIp: NO_REFILL, newConnectionBurstPerIp: 3 } })
    const first = await joined(openSocket(server, 'a'))
    await joined(openSocket(server, 'a'))
    for (let i = 0; i < 5; i++) expect(await outcomeOf(openSocket(server, 'a'))).toMatchObject({ code: 1008 })
    first.ws.close()
    await first.closed
    // The third token is still there for the slot that was freed.
    let third: Socket | null = null
    for (let attempt = 0; attempt < 100 && third === null; attempt++) {
      const candidate = openSocket(server, 'a')
      const outcome = await outcomeOf(candidate)
      if (outcome === 'joined') third = candidate
      else expect(outcome.code, 'refused while the closed socket was not yet released').toBe(1008)
    }
    expect(third).not.toBeNull()
    third!.ws.close()
    await third!.closed
    // No tokens left: refused for the rate; and again for the rate, not for the open cap,
    // which the first refusal would have filled had it kept its slot.
    const refusals: number[] = []
    for (let attempt = 0; attempt < 100 && refusals.length < 2; attempt++) {
      const outcome = await outcomeOf(openSocket(server, 'a'))
      if (outcome === 'joined') throw new Error('admitted with no tokens left')
      if (outcome.code === 1013) refusals.push(outcome.code)
      else expect(outcome.code, 'refused while the closed socket was not yet released').toBe(1008)
    }
    expect(refusals).toEqual([1013, 1013])
  })

  it('stock y-websocket clients refused for the rate come back and sync', async () => {
    const server = await start({ limits: { newConnectionBurstPerIp: 4 } })
    const clients = Array.from({ length: 12 }, () => client(server, 'crowd'))
    for (const c of clients) await c.synced()
    clients[0]!.doc.getText('t').insert(0, 'all in')
    for (const c of clients) await waitUntil(() => c.doc.getText('t').toString() === 'all in')
  })

  it('connections per process: 1013 try again later', async () => {
    const server = await start({ limits: { maxConnections: 2 } })
    await joined(openSocket(server, 'a'))
    await joined(openSocket(server, 'b'))
    const refused = openSocket(server, 'a')
    const closed = await refused.closed
    expect(closed.code).toBe(1013)
    expect(closed.reason).toMatch(/^try again later/)
  })

  it('rooms per process: 1013 try again later for a new room; open rooms still take connections', async () => {
    const server = await start({ limits: { maxRooms: 2 } })
    const a = client(server, 'a')
    const b = client(server, 'b')
    await a.synced()
    await b.synced()
    const refused = openSocket(server, 'c')
    expect(await refused.closed).toEqual({ code: 1013, reason: 'try again later: this server has 2 rooms open' })
    await expectRoomWorks(server, 'a')
    // Once a room is evicted (its last peer gone), a new one fits again.
    b.destroy()
    let admitted = false
    for (let attempt = 0; attempt < 200 && !admitted; attempt++) {
      const candidate = openSocket(server, 'c')
      admitted = (await Promise.race([joined(candidate).then(() => true), candidate.closed.then(() => false)])) === true
    }
    expect(admitted).toBe(true)
  })
})

describe('origin allow-list', () => {
  it('admits listed origins and clients without an Origin header; refuses others with 4403 and a reason', async () => {
    const server = await start({ allowedOrigins: ['https://notes.example', 'http://localhost:5173'] })
    await joined(openSocket(server, 'r', { origin: 'https://notes.example' }))
    await joined(openSocket(server, 'r', { origin: 'http://localhost:5173' }))
    await joined(openSocket(server, 'r'))
    const refused = openSocket(server, 'r', { origin: 'https://evil.example' })
    expect(await refused.closed).toEqual({ code: 4403, reason: 'origin https://evil.example is not allowed' })
    const lookalike = openSocket(server, 'r', { origin: 'https://notes.example.evil.example' })
    expect((await lookalike.closed).code).toBe(4403)
  })

  it('allows every origin by default', async () => {
    const server = await start()
    await joined(openSocket(server, 'r', { origin: 'https://anywhere.example' }))
  })
})

describe('slow consumers', () => {
  // The writers must not trip the rate limits while they fill a reader's buffers.
  const unlimitedRates = { maxMessagesPerSecond: 100_000, messageBurst: 100_000, maxBytesPerSecond: 1024 ** 3 }

  interface Writer {
    readonly doc: Y.Doc
    /** Sends one update of `bytes` characters appended to the text. */
    write(bytes: number): void
  }

  async function openWriter(server: QuireServerFixture, room: string): Promise<Writer> {
    const socket = await joined(openSocket(server, room))
    const doc = new Y.Doc()
    return { doc, write: (bytes) => socket.ws.send(encodeMessage({ type: 'sync-update', update: textUpdate(doc, 'y'.repeat(bytes)) })) }
  }

  /** Writes 64 KiB updates until `done()`; throws past `maxBytes` of them. */
  async function writeUntil(writer: Writer, done: () => boolean | Promise<boolean>, maxBytes = 64 * 1024 * 1024): Promise<void> {
    for (let written = 0; !(await done()); written += 64 * 1024) {
      if (written > maxBytes) throw new Error(`wrote ${written} bytes and the condition never held`)
      writer.write(64 * 1024)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  }

  async function health(server: QuireServerFixture): Promise<{ connections: number; unsentBytes: number }> {
    return (await (await fetch(`${server.httpUrl}/healthz`)).json()) as { connections: number; unsentBytes: number }
  }

  /**
   * Waits until the server holds `connections` sockets. Used while a dropped peer still
   * reads nothing: a graceful close would keep its socket and backlog on the server until
   * the peer drained them or ws's close timeout (30 s) fired, well past this wait.
   */
  async function serverHolds(server: QuireServerFixture, connections: number): Promise<void> {
    let last = -1
    await waitUntil(async () => (last = (await health(server)).connections) === connections, {
      timeoutMs: 5_000,
      describe: () => `the server still holds ${last} connections, expected ${connections}`
    })
  }

  /** A WebSocket class for stock clients whose TCP sockets the test can pause, and the sockets it opened. */
  function pausableWebSockets(server: QuireServerFixture) {
    const opened: { tcp: NetSocket; closed: Promise<number> }[] = []
    class PausableWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        let tcp: NetSocket | null = null
        super(address, protocols, { perMessageDeflate: false, createConnection: () => (tcp = netConnect(server.port, '127.0.0.1')) })
        if (tcp === null) throw new Error('ws did not open its TCP socket in its constructor')
        opened.push({ tcp, closed: new Promise((resolve) => this.on('close', (code) => resolve(code))) })
      }
    }
    return { WebSocket: PausableWebSocket, opened }
  }

  const slowLine = (logged: readonly string[]) => logged.find((m) => m.includes('slow consumer'))

  it('a reader that stops reading is terminated once the grace period is over, and resyncs when it reads again', async () => {
    const logged: string[] = []
    const server = await start({ log: (_level, message) => logged.push(message), limits: { slowConsumerBytes: 256 * 1024, slowConsumerGraceMs: 200, ...unlimitedRates } })
    const pausable = pausableWebSockets(server)
    const reader = createStockClient(server.url, 'slow', { webSocket: pausable.WebSocket })
    cleanups.push(() => reader.destroy())
    await reader.synced()
    const writer = await openWriter(server, 'slow')
    const stalled = pausable.opened[0]!
    stalled.tcp.pause()
    await writeUntil(writer, () => slowLine(logged) !== undefined)
    expect(slowLine(logged)).toMatch(/^terminating connection \d+ to "slow" \(\d+ bytes unsent\): slow consumer: more than 262144 bytes unsent for 200 ms$/)
    await serverHolds(server, 1)
    // Reading again, it gets what the kernel still held, then the end of the connection:
    // no close frame (1006), so y-websocket reconnects and resyncs.
    stalled.tcp.resume()
    expect(await stalled.closed).toBe(1006)
    await waitUntil(() => reader.doc.getText('t').toString() === writer.doc.getText('t').toString(), {
      describe: () => `the reader has ${reader.doc.getText('t').length} of ${writer.doc.getText('t').length} characters after ${pausable.opened.length} connections`
    })
    expect(pausable.opened.length).toBe(2)
    await expectRoomWorks(server, 'slow')
  })

  it('a reader past the hard bound is terminated at once, whatever the grace period', async () => {
    const logged: string[] = []
    const server = await start({
      log: (_level, message) => logged.push(message),
      maxBufferedBytes: 1024 * 1024,
      limits: { slowConsumerGraceMs: 3_600_000, ...unlimitedRates }
    })
    const reader = await joined(openSocket(server, 'slow'))
    reader.tcp().pause()
    await writeUntil(await openWriter(server, 'slow'), () => slowLine(logged) !== undefined)
    expect(slowLine(logged)).toMatch(/^terminating connection \d+ to "slow" \(\d+ bytes unsent\): slow consumer: more than 1048576 bytes waiting to be sent$/)
    await serverHolds(server, 1)
    reader.tcp().resume()
    expect((await reader.closed).code).toBe(1006)
  })

  it('past the server-wide budget for unsent bytes, the largest backlogs are dropped first, until the sum is back under', async () => {
    const MiB = 1024 * 1024
    const logged: string[] = []
    const server = await start({
      log: (_level, message) => logged.push(message),
      maxBufferedBytes: 1024 ** 3,
      // Only the budget can drop anyone here.
      limits: { maxUnsentBytes: 4 * MiB, slowConsumerBytes: 1024 ** 3, slowConsumerGraceMs: 3_600_000, ...unlimitedRates }
    })
    // One stalled reader in "small" and one in "medium"; two in "large", which share each
    // relayed frame in memory but are counted once each, as the budget counts.
    const stall = async (room: string) => {
      const socket = await joined(openSocket(server, room))
      socket.tcp().pause()
      return socket
    }
    const small = await stall('small')
    const medium = await stall('medium')
    const large = [await stall('large'), await stall('large')]
    const writers = { small: await openWriter(server, 'small'), medium: await openWriter(server, 'medium'), large: await openWriter(server, 'large') }
    const unsent = async () => (await health(server)).unsentBytes
    // Backlogs of about 0.5 MiB (small) and 1 MiB (medium): 1.5 MiB in all, under the budget.
    await writeUntil(writers.small, async () => (await unsent()) >= 0.5 * MiB)
    await writeUntil(writers.medium, async () => (await unsent()) >= 1.5 * MiB)
    const budgetLines = () => logged.filter((m) => m.includes("over the server's budget for unsent bytes"))
    expect(budgetLines()).toEqual([])
    // The large room's two backlogs grow in step, to about 1.5 MiB each: 4.5 MiB in all.
    // After the budget's settle, the largest backlog goes, one of the large room's, and
    // that is enough: the other stays, though it is now the largest.
    await writeUntil(writers.large, async () => (await unsent()) >= 4.5 * MiB)
    await waitUntil(() => budgetLines().length === 1, { describe: () => logged.join('\n') })
    expect(budgetLines()[0]).toMatch(
      /^terminating connection \d+ to "large" \(\d+ bytes unsent\): over the server's budget for unsent bytes: \d+ bytes waiting for all peers \(budget 4194304\), \d+ of them for this one, the largest backlog$/
    )
    await serverHolds(server, 6)
    expect(await unsent()).toBeLessThanOrEqual(4 * MiB)
    // The one left grows until the sum is over again, and goes in its turn.
    await writeUntil(writers.large, () => budgetLines().length === 2, 32 * MiB)
    expect(budgetLines()[1]).toMatch(/^terminating connection \d+ to "large" /)
    await serverHolds(server, 5)
    expect(await unsent()).toBeLessThanOrEqual(4 * MiB)
    for (const dropped of large) {
      dropped.tcp().resume()
      expect((await dropped.closed).code).toBe(1006)
    }
    // The small and medium readers stay, and get everything once they read again.
    for (const [kept, writer] of [[small, writers.small], [medium, writers.medium]] as const) {
      kept.tcp().resume()
      const doc = new Y.Doc()
      await waitUntil(() => {
        for (const message of kept.messages.splice(0)) {
          if (message.type === 'sync-update' || message.type === 'sync-step-2') Y.applyUpdate(doc, message.update)
        }
        return doc.getText('t').length === writer.doc.getText('t').length
      })
      expect(doc.getText('t').toString()).toBe(writer.doc.getText('t').toString())
      expect(kept.ws.readyState).toBe(WebSocket.OPEN)
    }
  })
})

describe('default limits', () => {
  it('are the documented values', () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxMessagesPerSecond: 200,
      messageBurst: 1000,
      maxBytesPerSecond: 8 * 1024 * 1024,
      byteBurst: 32 * 1024 * 1024,
      maxAwarenessPerSecond: 60,
      awarenessBurst: 600,
      maxConnectionsPerIp: 512,
      maxNewConnectionsPerSecondPerIp: 16,
      newConnectionBurstPerIp: 512,
      maxConnections: 10_000,
      maxRooms: 10_000,
      slowConsumerBytes: 16 * 1024 * 1024,
      slowConsumerGraceMs: 10_000,
      maxUnsentBytes: Math.floor(getHeapStatistics().heap_size_limit / 4)
    })
  })

  /** Opens `count` sockets to `room` at once; resolves to how each ended up: joined, or its close. */
  async function openAtOnce(server: QuireServerFixture, room: string, count: number): Promise<(Socket | { code: number; reason: string })[]> {
    return Promise.all(
      Array.from({ length: count }, () => {
        const socket = openSocket(server, room)
        return Promise.race([joined(socket), socket.closed])
      })
    )
  }

  it('serve an office behind one NAT: 40 people with two tabs each, all connecting at once from one address (64 refused them)', async () => {
    const server = await start()
    const outcomes = await openAtOnce(server, 'office', 80)
    expect(outcomes.filter((o) => !('ws' in o))).toEqual([])
  })

  it('cut off a client opening sockets in a loop: past 512 at once, 16 per second, with 1013', async () => {
    const server = await start()
    const startedAt = performance.now()
    let admitted = 0
    let refusal: { code: number; reason: string } | null = null
    // Batches of 32 sockets opened at once and closed once joined, until one is refused.
    while (refusal === null && admitted < 2000) {
      for (const outcome of await openAtOnce(server, 'churn', 32)) {
        if ('ws' in outcome) {
          admitted++
          outcome.ws.close()
        } else refusal ??= outcome
      }
    }
    const seconds = (performance.now() - startedAt) / 1000
    expect(refusal).toEqual({ code: 1013, reason: 'try again later: more than 16 new connections per second from your address' })
    expect(admitted).toBeGreaterThanOrEqual(512)
    expect(admitted, `admitted in ${seconds.toFixed(1)} s`).toBeLessThanOrEqual(512 + Math.ceil(16 * seconds))
  })

  it('do not bother a fast typist: 400 keystrokes with a cursor update each, at about 60 per second', async () => {
    const server = await start()
    const typist = client(server, 'typing')
    const watcher = client(server, 'typing')
    await typist.synced()
    await watcher.synced()
    const text = typist.doc.getText('t')
    for (let i = 0; i < 400; i++) {
      text.insert(text.length, String.fromCharCode(97 + (i % 26)))
      typist.provider.awareness.setLocalStateField('cursor', { index: text.length })
      if (i % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 60))
    }
    await waitUntil(() => watcher.doc.getText('t').length === 400)
    await waitUntil(() => (watcher.provider.awareness.getStates().get(typist.doc.clientID)?.['cursor'] as { index?: number } | undefined)?.index === 400)
    expect(typist.provider.wsconnected).toBe(true)
  })
})

describe('quire serve flags', () => {
  it('--allow-origin and --max-connections-per-ip reach the server, which says what it allows', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-limits-cli-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const spawned = await spawnQuireServer({
      dataDir,
      args: ['--allow-origin', 'https://ok.example', '--allow-origin', 'https://also.example', '--max-connections-per-ip', '2']
    })
    cleanups.push(() => spawned.kill('SIGTERM'))
    const server: QuireServerFixture = { url: spawned.url, httpUrl: spawned.httpUrl, port: spawned.port, dataDir, close: async () => {} }
    expect((await openSocket(server, 'r', { origin: 'https://evil.example' }).closed).code).toBe(4403)
    await joined(openSocket(server, 'r', { origin: 'https://also.example' }))
    await joined(openSocket(server, 'r'))
    expect(await openSocket(server, 'r').closed).toEqual({ code: 1008, reason: 'too many connections from your address (limit 2)' })
    await waitUntil(() => spawned.output().includes('browser pages may connect only from: https://ok.example, https://also.example'))
  })
})
