import { afterEach, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import { WebSocket } from 'ws'
import { decodeMessage, encodeMessage, findUpdateProblem } from '@quire/protocol'
import { findDivergence, startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Regression tests for what the protocol fuzzer (fuzz.test.ts) found: updates whose
 * bytes decode as a Yjs update but that throw inside every client applying them, which
 * left the room's replicas diverged. Each case keeps the exact bytes the fuzzer made.
 */

const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  vi.restoreAllMocks()
})

const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'))

/** Struct (12345, 0) with origin (12345, 4) and right origin (12345, 5): inside itself. */
const SELF_REFERENCING_ORIGIN = fromHex('0101b96000c4b96004b960050961626361626361626300')
/** No structs; a delete range of client 12345 starting at clock 84 with length 0. */
const ZERO_LENGTH_DELETE = fromHex('0001b960015400')
/**
 * Clocks 135 and 136 of client 12345, which the room already has with other content,
 * re-sent with origins that make no sense for them. Harmless to an empty document;
 * throws in one holding `editedDocument()`.
 */
const FORGED_RESEND = fromHex('0102b960870188b96057017d0587b960c7010000')

/**
 * No structs; client 7's delete ranges out of clock order: [1000, 1005) before [2, 12).
 * Yjs never writes that (it sorts and merges a client's ranges). The fuzzer's bytes were
 * `0001d9938f980402d99330c3eff404020a011901` (a huge range, then [2, 12)); this is the
 * same shape, small.
 */
const UNSORTED_DELETE_RANGES = fromHex('00010702e80705020a')

/**
 * Two updates the extensive fuzz run (QUIRE_EXTENSIVE=1, seed 20251123) had the room
 * accept: client 1124321791's first structs, then a struct whose client id,
 * 46185279767099910, is past Number.MAX_SAFE_INTEGER (Yjs client ids are 32-bit). Each
 * applies alone; applied one after the other, Yjs throws "Integer out of Range".
 */
const BEFORE_HUGE_CLIENT = fromHex('0102ff938f9804000801056172726179017d0687d9938f98040c0000')
const HUGE_CLIENT_ID = fromHex('01018af4fad2c6a88552c4d9938f980443d9938f98044404c3a54f6900')

/** The document the fuzzer mutated: client 12345's edits from a fixed pseudo-random script. */
function editDocument(doc: Y.Doc): void {
  let seed = 7
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  const text = doc.getText('text')
  const map = doc.getMap('map')
  const array = doc.getArray('array')
  for (let i = 0; i < 80; i++) {
    const op = int(0, 6)
    if (op === 0 || text.length === 0) text.insert(int(0, text.length), 'abc'.repeat(int(1, 3)))
    else if (op === 1) text.delete(int(0, text.length - 1), 1)
    else if (op === 2) text.format(0, Math.min(3, text.length), { bold: next() < 0.5 })
    else if (op === 3) map.set('k' + int(0, 5), int(0, 100))
    else if (op === 4) map.set(`child${int(0, 3)}`, new Y.Map([['k', 'v']]))
    else if (op === 5) array.push([int(0, 9), new Y.Array()])
    else if (array.length > 0) array.delete(int(0, array.length - 1), 1)
  }
}

function editedDocument(): Y.Doc {
  const doc = new Y.Doc()
  doc.clientID = 12345
  editDocument(doc)
  return doc
}

async function start(): Promise<QuireServerFixture> {
  const server = await startQuireServer({ log: () => {} })
  cleanups.push(() => server.close())
  return server
}

function client(server: QuireServerFixture, room: string, doc?: Y.Doc): StockClient {
  const c = createStockClient(server.url, room, doc === undefined ? {} : { doc })
  cleanups.push(() => c.destroy())
  return c
}

/** Sends `frame` on a fresh socket once the room is loaded; resolves with the server's close, or null if it stays open. */
async function sendRaw(server: QuireServerFixture, room: string, frame: Uint8Array): Promise<{ code: number; reason: string } | null> {
  const ws = new WebSocket(`${server.url}/${encodeURIComponent(room)}`, { perMessageDeflate: false })
  cleanups.push(() => ws.terminate())
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  await new Promise<void>((resolve) => ws.once('message', () => resolve()))
  ws.send(frame)
  // A query-awareness answered (or a close) means the frame before it was handled.
  let answered = false
  ws.on('message', (data: Buffer) => {
    const decoded = decodeMessage(new Uint8Array(data))
    if (decoded.ok && decoded.message.type === 'awareness') answered = true
  })
  ws.send(encodeMessage({ type: 'query-awareness' }))
  const outcome = await Promise.race([closed, waitUntil(() => answered).then(() => null)])
  return outcome
}

describe('fuzz regressions', () => {
  it('fuzz: an update whose struct has its origin inside itself is refused with 1007', async () => {
    expect(() => Y.applyUpdate(new Y.Doc(), SELF_REFERENCING_ORIGIN)).toThrow()
    expect(findUpdateProblem(SELF_REFERENCING_ORIGIN)).toMatch(/refers to itself|delete range/)
    const server = await start()
    const watcher = client(server, 'r')
    watcher.provider.awareness.setLocalStateField('here', true)
    await watcher.synced()
    const closed = await sendRaw(server, 'r', encodeMessage({ type: 'sync-update', update: SELF_REFERENCING_ORIGIN }))
    expect(closed).toMatchObject({ code: 1007, reason: expect.stringMatching(/refers to itself|delete range/) })
  })

  it('fuzz: a zero-length delete range is refused with 1007', async () => {
    expect(() => Y.applyUpdate(new Y.Doc(), ZERO_LENGTH_DELETE)).toThrow()
    expect(findUpdateProblem(ZERO_LENGTH_DELETE)).toMatch(/refers to itself|delete range/)
    const server = await start()
    const watcher = client(server, 'r')
    watcher.provider.awareness.setLocalStateField('here', true)
    await watcher.synced()
    const closed = await sendRaw(server, 'r', encodeMessage({ type: 'sync-step-2', update: ZERO_LENGTH_DELETE }))
    expect(closed).toMatchObject({ code: 1007 })
  })

  it('fuzz: known clocks re-sent with other content are dropped, so newcomers get what everyone has', async () => {
    const errors = vi.spyOn(console, 'error')
    const server = await start()
    const doc = new Y.Doc()
    doc.clientID = 12345
    const writer = client(server, 'r', doc)
    await writer.synced()
    editDocument(doc)
    const reader = client(server, 'r')
    await reader.synced()
    await waitUntil(() => findDivergence([writer.doc, reader.doc]) === null)
    writer.provider.awareness.setLocalStateField('here', true)
    await waitUntil(() => reader.provider.awareness.getStates().has(12345))

    // The same ids as the writer's first edits, other content: well formed, and replicas
    // holding the originals skip it, but a room merging it could hand it to newcomers.
    const forger = new Y.Doc()
    forger.clientID = 12345
    forger.getText('text').insert(0, 'FORGED')
    forger.getMap('map').set('forged', true)
    const forged = Y.encodeStateAsUpdate(forger)
    expect(findUpdateProblem(forged)).toBeNull()
    expect(await sendRaw(server, 'r', encodeMessage({ type: 'sync-update', update: forged }))).toBeNull()
    expect(await sendRaw(server, 'r', encodeMessage({ type: 'sync-step-2', update: forged }))).toBeNull()
    writer.doc.getText('text').insert(0, 'after ')
    const newcomer = client(server, 'r')
    await newcomer.synced()
    await waitUntil(() => findDivergence([writer.doc, reader.doc, newcomer.doc]) === null, {
      describe: () => findDivergence([writer.doc, reader.doc, newcomer.doc]) ?? ''
    })
    expect(newcomer.doc.getText('text').toString()).not.toContain('FORGED')
    expect(newcomer.doc.getMap('map').has('forged')).toBe(false)
    expect(errors.mock.calls.filter(([message]) => String(message).includes('Yjs update'))).toEqual([])
  })

  it('fuzz: delete ranges out of clock order do not split the room between the clients that had them relayed and newcomers', async () => {
    // Why it matters: a Y.Doc that holds them pending and then gets the structs loses the
    // deletion of [2, 12), while Y.mergeUpdates (how a room folds its log) keeps it.
    const letters = new Y.Doc()
    letters.clientID = 7
    for (const ch of 'abcdefghijkl') letters.getText('t').insert(letters.getText('t').length, ch)
    const structs = Y.encodeStateAsUpdate(letters)
    const sequential = new Y.Doc()
    Y.applyUpdate(sequential, UNSORTED_DELETE_RANGES)
    Y.applyUpdate(sequential, structs)
    const merged = new Y.Doc()
    Y.applyUpdate(merged, Y.mergeUpdates([UNSORTED_DELETE_RANGES, structs]))
    expect([sequential.getText('t').toString(), merged.getText('t').toString()]).toEqual(['abcdefghijkl', 'ab'])

    // Found by fuzz.test.ts (seed 20251123, connections 30 and 349 of its plan): a client
    // in the room when such an update was accepted and a newcomer served the room's state
    // held different documents for good.
    const server = await start()
    const early = client(server, 'r')
    early.provider.awareness.setLocalStateField('here', true)
    await early.synced()
    await sendRaw(server, 'r', encodeMessage({ type: 'sync-update', update: UNSORTED_DELETE_RANGES }))
    expect(await sendRaw(server, 'r', encodeMessage({ type: 'sync-update', update: structs }))).toBeNull()
    await waitUntil(() => early.doc.getText('t').length > 0)
    const newcomer = client(server, 'r')
    await newcomer.synced()
    await waitUntil(() => findDivergence([early.doc, newcomer.doc]) === null, {
      timeoutMs: 5_000,
      describe: () => `${findDivergence([early.doc, newcomer.doc])}: "${early.doc.getText('t').toString()}" in the room before, "${newcomer.doc.getText('t').toString()}" for a newcomer`
    })
  })

  it('fuzz: an update naming a client id past the safe integers is refused with 1007, and nothing throws in the room\'s clients', async () => {
    // Why it matters: each update applies alone, but not one after the other.
    expect(() => Y.applyUpdate(new Y.Doc(), HUGE_CLIENT_ID)).not.toThrow()
    const replica = new Y.Doc()
    Y.applyUpdate(replica, BEFORE_HUGE_CLIENT)
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    expect(() => Y.applyUpdate(replica, HUGE_CLIENT_ID)).toThrow(/Integer out of Range/)
    errors.mockClear()

    const server = await start()
    const early = client(server, 'r')
    early.provider.awareness.setLocalStateField('here', true)
    await early.synced()
    expect(await sendRaw(server, 'r', encodeMessage({ type: 'sync-update', update: BEFORE_HUGE_CLIENT }))).toBeNull()
    await waitUntil(() => early.doc.store.pendingStructs !== null)
    expect(await sendRaw(server, 'r', encodeMessage({ type: 'sync-update', update: HUGE_CLIENT_ID }))).toMatchObject({ code: 1007 })
    // The room goes on: a writer's edit reaches the early client, which threw nothing.
    const writer = client(server, 'r')
    await writer.synced()
    writer.doc.getMap('m').set('after', true)
    await waitUntil(() => early.doc.getMap('m').get('after') === true)
    expect(errors.mock.calls.map(([message]) => String(message))).toEqual([])
  })

  it('fuzz: a forged resend with an origin past its own clock is refused with 1007', async () => {
    // Applied as is, it throws in a replica that holds the originals.
    expect(() => Y.applyUpdate(editedDocument(), FORGED_RESEND)).toThrow()
    expect(findUpdateProblem(FORGED_RESEND)).toMatch(/refers to itself or to a later struct/)
    const server = await start()
    const watcher = client(server, 'r')
    watcher.provider.awareness.setLocalStateField('here', true)
    await watcher.synced()
    expect(await sendRaw(server, 'r', encodeMessage({ type: 'sync-update', update: FORGED_RESEND }))).toMatchObject({ code: 1007 })
  })
})
