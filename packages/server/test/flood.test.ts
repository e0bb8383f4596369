import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { WebSocket } from 'ws'
import { encodeAwarenessUpdate, encodeMessage } from '@quire/protocol'
import { DEFAULT_LIMITS } from '@quire/server'
import { findDivergence, isExtensiveRun, spawnQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * One client floods a room with updates and awareness as fast as its socket takes them.
 * The server runs as its own process (the built CLI), so "responsive" is measured from
 * outside it, as a user would: the other clients in the room keep exchanging edits, a
 * newcomer can join, /healthz answers.
 *   - With the default limits the flooder is cut off with 1008 and a rate-limit reason.
 *   - A flooder pacing itself just under the limits, for longer than the bursts last, is
 *     never cut off: the others keep working beside it, and everything it sent ends up
 *     in the document. (limits.test.ts checks just under and just over each sustained
 *     rate with small bursts.)
 */

const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function spawn(args: readonly string[] = []): Promise<SpawnedQuireServer> {
  const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-flood-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  const server = await spawnQuireServer({ dataDir, args })
  cleanups.push(() => server.kill('SIGTERM'))
  return server
}

function client(server: SpawnedQuireServer, room: string): StockClient {
  const c = createStockClient(server.url, room)
  cleanups.push(() => c.destroy())
  return c
}

interface Flooder {
  readonly doc: Y.Doc
  readonly closed: Promise<{ code: number; reason: string }>
  /** Frames sent so far. */
  sent(): number
  /** Stops flooding and closes the socket normally. */
  stop(): Promise<void>
}

/**
 * Sends updates and awareness updates: unpaced, as fast as the socket takes them (while
 * its send buffer is below 1 MiB), or paced at `updatesPerSecond` with an awareness
 * update after every third update.
 */
async function startFlood(server: SpawnedQuireServer, room: string, updatesPerSecond?: number): Promise<Flooder> {
  const ws = new WebSocket(`${server.url}/${encodeURIComponent(room)}`, { perMessageDeflate: false })
  cleanups.push(() => ws.terminate())
  ws.on('error', () => {})
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const doc = new Y.Doc()
  const text = doc.getText('flood')
  let pending: Uint8Array | null = null
  doc.on('update', (update: Uint8Array) => (pending = update))
  let frames = 0
  let running = true
  let updates = 0
  let clock = 0
  const started = performance.now()
  const sendOne = (withAwareness: boolean): void => {
    text.insert(text.length, String.fromCharCode(97 + (updates % 26)))
    ws.send(encodeMessage({ type: 'sync-update', update: pending as unknown as Uint8Array }))
    updates++
    frames++
    if (!withAwareness) return
    clock++
    ws.send(encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate([{ clientId: doc.clientID, clock, state: `{"cursor":${clock}}` }]) }))
    frames++
  }
  const loop = (async () => {
    while (running && ws.readyState === WebSocket.OPEN) {
      if (updatesPerSecond === undefined) {
        for (let i = 0; i < 100 && ws.bufferedAmount < 1024 * 1024; i++) sendOne(true)
        // Give this process's other sockets (the well-behaved clients) their turn.
        await new Promise((resolve) => setImmediate(resolve))
      } else {
        const due = Math.floor(((performance.now() - started) / 1000) * updatesPerSecond)
        while (updates < due && ws.readyState === WebSocket.OPEN) sendOne(updates % 3 === 0)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
  })()
  return {
    doc,
    closed,
    sent: () => frames,
    async stop() {
      running = false
      await loop
      ws.close()
      await closed
    }
  }
}

async function expectHealthy(server: SpawnedQuireServer): Promise<void> {
  const response = await fetch(`${server.httpUrl}/healthz`)
  expect(response.status).toBe(200)
  expect(((await response.json()) as { ok: boolean }).ok).toBe(true)
}

/** `a` edits; `b` must see each edit, one after the other. */
async function exchangeEdits(a: StockClient, b: StockClient, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    a.doc.getMap('pings').set(`ping${i}`, i)
    await waitUntil(() => b.doc.getMap('pings').get(`ping${i}`) === i, { describe: () => `ping${i} did not reach the other client` })
  }
}

describe('flood', () => {
  it('with the default limits, the flooder is closed with 1008 "rate limit" and the room goes on', async () => {
    const server = await spawn()
    const a = client(server, 'flooded')
    const b = client(server, 'flooded')
    await a.synced()
    await b.synced()
    const flooder = await startFlood(server, 'flooded')
    const { code, reason } = await flooder.closed
    expect(code).toBe(1008)
    expect(reason).toMatch(/^rate limit: more than \d+ (messages|bytes|awareness updates) per second$/)
    expect(flooder.sent()).toBeGreaterThan(1000)
    await exchangeEdits(a, b, 5)
    await expectHealthy(server)
    const newcomer = client(server, 'flooded')
    await newcomer.synced()
    await waitUntil(() => findDivergence([a.doc, b.doc, newcomer.doc]) === null, { describe: () => findDivergence([a.doc, b.doc, newcomer.doc]) ?? '' })
    expect(a.provider.wsconnected && b.provider.wsconnected).toBe(true)
  })

  it('a flooder just under the default limits is never cut off; the others keep exchanging edits, and nothing is lost', { timeout: isExtensiveRun() ? 120_000 : 60_000 }, async () => {
    const server = await spawn()
    const a = client(server, 'flooded')
    const b = client(server, 'flooded')
    await a.synced()
    await b.synced()
    // 120 updates and 40 awareness updates per second: 160 messages, 0.8 of the default
    // 200, and two thirds of the default 60 awareness updates. Under the limits, not at
    // them, and for longer than the 1000-message burst lasts, so it is the sustained rate
    // that lets the flooder through, not the burst.
    const flooder = await startFlood(server, 'flooded', 120)
    await waitUntil(() => flooder.sent() > 400)
    await exchangeEdits(a, b, 10)
    await expectHealthy(server)
    const newcomer = client(server, 'flooded')
    await newcomer.synced()
    await exchangeEdits(newcomer, a, 3)
    const frames = (isExtensiveRun() ? 4 : 1.3) * DEFAULT_LIMITS.messageBurst
    await waitUntil(() => flooder.sent() > frames, { timeoutMs: 60_000, describe: () => `${flooder.sent()} frames sent` })
    await exchangeEdits(a, b, 3)
    await flooder.stop()
    expect((await flooder.closed).code).toBe(1005)

    // Everything the flooder sent reached the room: a late joiner holds it all, with the others' edits.
    const reference = new Y.Doc()
    Y.applyUpdate(reference, Y.encodeStateAsUpdate(flooder.doc))
    Y.applyUpdate(reference, Y.encodeStateAsUpdate(a.doc))
    const late = client(server, 'flooded')
    await late.synced()
    await waitUntil(() => findDivergence([reference, late.doc, a.doc, b.doc]) === null, {
      describe: () => findDivergence([reference, late.doc, a.doc, b.doc]) ?? ''
    })
    expect(late.doc.getText('flood').length).toBe(flooder.doc.getText('flood').length)
  })
})
