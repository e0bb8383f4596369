import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { WebSocket } from 'ws'
import { createSavedAcknowledgement, encodeAwarenessUpdate, encodeMessage, type Message } from '@quire/protocol'
import { createLevelStorage } from '@quire/server'
import { createPrng, findDivergence, isExtensiveRun, readSeeds, runWithSeed, startQuireServer, type Prng, type QuireServerFixture } from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Protocol fuzzing against a live server over real sockets.
 *
 * The corpus is valid messages built from real Y.Doc edits (sync step 1/2 and updates,
 * awareness, query-awareness, the Quire extension, auth). Each fuzz connection sends a
 * few of them, mostly mutated (bit flips, truncation, duplicated or spliced ranges,
 * random varints, concatenation; often inside a correctly re-framed envelope so the
 * payload validation is what gets exercised, not only the framing), then an end marker
 * the server must refuse (a client-sent auth message). So every connection ends with a
 * close from the server, and its code says which frame it refused: the marker (every
 * fuzz frame was accepted or ignored) or a fuzz frame (1007/1008/1009, with a reason).
 *
 * Meanwhile a well-formed stock client edits in the same room. Afterwards: the process
 * is alive, its heap did not grow without bound, the well-formed client was never
 * disconnected, a newcomer converges with it, and after a restart the stored document
 * loads and matches.
 *
 * A seed is a full repro: the seed alone determines the plan (every connection's room,
 * frames and the well-formed client's edits between them), computed before anything is
 * sent, and the connections run one after the other in plan order, so a rerun with the
 * same seed sends the same frames in the same order. The test checks that what went over
 * the wire is exactly the plan. (Four concurrent workers sharing one frame counter sent a
 * different set of frames on every run: 854 and then 877 refusals for the same seed.)
 */

const TEST_NAME = 'fuzz: random and mutated protocol messages never crash the server or poison the room'
const ITERATIONS = isExtensiveRun() ? 40_000 : 4_000
const ROOM = 'fuzzed room'
const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

function heapBytes(): number {
  collectGarbage()
  collectGarbage()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

/** Valid frames from real edits: what a real client could send. */
function buildCorpus(prng: Prng): Uint8Array[] {
  const doc = new Y.Doc()
  doc.clientID = prng.int(1, 2 ** 31)
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  const text = doc.getText('text')
  const map = doc.getMap('map')
  const array = doc.getArray('array')
  for (let i = 0; i < 80; i++) {
    const op = prng.int(0, 6)
    if (op === 0 || text.length === 0) text.insert(prng.int(0, text.length), prng.string(prng.int(1, 12)))
    else if (op === 1) text.delete(prng.int(0, text.length - 1), 1)
    else if (op === 2) text.format(0, Math.min(3, text.length), { bold: prng.bool() })
    else if (op === 3) map.set(prng.string(2), prng.pick([prng.int(0, 1000), prng.string(5), { nested: [1, 'two'] }, null]))
    else if (op === 4) map.set(`child${prng.int(0, 3)}`, new Y.Map([['k', prng.string(3)]]))
    else if (op === 5) array.push([prng.int(0, 9), new Y.Array()])
    else if (array.length > 0) array.delete(prng.int(0, array.length - 1), 1)
  }
  const state = Y.encodeStateAsUpdate(doc)
  const messages: Message[] = [
    { type: 'sync-step-1', stateVector: Y.encodeStateVector(doc) },
    { type: 'sync-step-1', stateVector: Y.encodeStateVector(new Y.Doc()) },
    { type: 'sync-step-2', update: state },
    { type: 'query-awareness' },
    { type: 'quire-hello', version: 1 },
    { type: 'quire-saved', ...createSavedAcknowledgement(state) },
    { type: 'auth-permission-denied', reason: 'nope' },
    { type: 'awareness', update: encodeAwarenessUpdate([{ clientId: doc.clientID, clock: 3, state: '{"user":{"name":"fuzz"}}' }]) },
    { type: 'awareness', update: encodeAwarenessUpdate([{ clientId: doc.clientID, clock: 4, state: 'null' }]) }
  ]
  for (const update of updates) messages.push({ type: prng.bool(0.7) ? 'sync-update' : 'sync-step-2', update })
  return messages.map((m) => encodeMessage(m))
}

function randomBytes(prng: Prng, length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = prng.int(0, 255)
  return bytes
}

function randomVarint(prng: Prng): Uint8Array {
  const encoder = encoding.createEncoder()
  const value = prng.pick([0, 1, 127, 128, 255, 2 ** 31 - 1, 2 ** 32, 2 ** 53 - 1, prng.int(0, 2 ** 31)])
  encoding.writeVarUint(encoder, value)
  return encoding.toUint8Array(encoder)
}

/** One byte-level mutation. */
function mutateBytes(prng: Prng, bytes: Uint8Array, corpus: readonly Uint8Array[]): Uint8Array {
  const at = (): number => prng.int(0, Math.max(0, bytes.length - 1))
  switch (prng.int(0, 8)) {
    case 0: {
      const out = bytes.slice()
      for (let n = prng.int(1, 3); n > 0 && out.length > 0; n--) {
        const i = at()
        out[i] = (out[i] ?? 0) ^ (1 << prng.int(0, 7))
      }
      return out
    }
    case 1:
      return bytes.slice(0, prng.int(0, bytes.length))
    case 2: {
      const start = at()
      const end = prng.int(start, Math.min(bytes.length, start + 16))
      return concat(bytes.slice(0, end), bytes.slice(start, end), bytes.slice(end))
    }
    case 3: {
      const start = at()
      return concat(bytes.slice(0, start), randomBytes(prng, prng.int(1, 8)), bytes.slice(start + prng.int(0, 8)))
    }
    case 4: {
      const i = at()
      return concat(bytes.slice(0, i), randomVarint(prng), bytes.slice(i + prng.int(0, 2)))
    }
    case 5: {
      const out = bytes.slice()
      if (out.length > 0) out[at()] = prng.pick([0x00, 0x7f, 0x80, 0xff])
      return out
    }
    case 6:
      return concat(bytes, prng.pick(corpus))
    case 7:
      return randomBytes(prng, prng.int(0, 48))
    default: {
      const out = bytes.slice()
      if (out.length > 0) out[0] = prng.int(0, 4) === 0 ? prng.int(0, 255) : prng.pick([0, 1, 2, 3, 100])
      return out
    }
  }
}

/**
 * A fuzz frame: a valid one unchanged, mutated as bytes, or (the interesting case for
 * validation) with its payload mutated and then re-framed with correct lengths.
 */
function fuzzFrame(prng: Prng, corpus: readonly Uint8Array[]): Uint8Array {
  const valid = prng.pick(corpus)
  const roll = prng.next()
  if (roll < 0.15) return valid
  const mutations = prng.int(1, 3)
  if (roll < 0.55 && (valid[0] === 0 || valid[0] === 1) && valid.length > 3) {
    // Sync (type 0, subtype) or awareness (type 1): the payload is the varUint8Array that follows.
    const headerLength = valid[0] === 0 ? 2 : 1
    const lengthBytes = varUintLength(valid, headerLength)
    let payload: Uint8Array = valid.slice(headerLength + lengthBytes)
    for (let n = 0; n < mutations; n++) payload = mutateBytes(prng, payload, corpus)
    const encoder = encoding.createEncoder()
    encoding.writeUint8Array(encoder, valid.slice(0, headerLength))
    encoding.writeVarUint8Array(encoder, payload)
    return encoding.toUint8Array(encoder)
  }
  let bytes = valid
  for (let n = 0; n < mutations; n++) bytes = mutateBytes(prng, bytes, corpus)
  return bytes
}

function varUintLength(bytes: Uint8Array, offset: number): number {
  let n = 0
  while ((bytes[offset + n] ?? 0) & 0x80) n++
  return n + 1
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const END_MARKER = encodeMessage({ type: 'auth-permission-denied', reason: 'end of fuzz sequence' })
const END_REASON = 'unexpected auth-permission-denied message from a client'

interface Outcome {
  readonly code: number
  readonly reason: string
}

/**
 * Opens a socket, sends `frames` and the end marker once the room is loaded, resolves with
 * the server's close. `onSend` sees each fuzz frame as it goes out.
 */
function fuzzConnection(server: QuireServerFixture, room: string, frames: readonly Uint8Array[], onSend: (frame: Uint8Array) => void): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url}/${encodeURIComponent(room)}`, { perMessageDeflate: false })
    let sent = false
    ws.on('message', () => {
      // The first frame from the server (its sync step 1) means the room is loaded.
      if (sent) return
      sent = true
      for (const frame of frames) {
        onSend(frame)
        ws.send(frame)
      }
      ws.send(END_MARKER)
    })
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    ws.on('error', (error) => {
      // A reset after the server closed is fine; the close event still reports the code.
      if (ws.readyState === WebSocket.CONNECTING) reject(error)
    })
  })
}

interface PlannedConnection {
  readonly room: string
  readonly frames: readonly Uint8Array[]
  /** Text the well-formed client inserts once this connection is done, if any. */
  readonly wellFormedEdit: string | null
}

interface FuzzPlan {
  readonly connections: readonly PlannedConnection[]
  readonly frames: number
  /** SHA-256 of every frame with its room, in the order they are to be sent. */
  readonly digest: string
}

/** Everything a seed sends, decided before anything is sent. */
function planFuzz(seed: number, iterations: number): FuzzPlan {
  const prng = createPrng(seed)
  const corpus = buildCorpus(prng)
  const rooms = [ROOM, ROOM, ROOM, 'second room', prng.string(12)]
  const connections: PlannedConnection[] = []
  let frames = 0
  while (frames < iterations) {
    const planned = Array.from({ length: prng.int(1, 6) }, () => fuzzFrame(prng, corpus))
    frames += planned.length
    connections.push({ room: prng.pick(rooms), frames: planned, wellFormedEdit: prng.bool(0.05) ? prng.string(3) : null })
  }
  return { connections, frames, digest: digestOf(connections.flatMap((c) => c.frames.map((frame) => ({ room: c.room, frame })))) }
}

function digestOf(sent: readonly { room: string; frame: Uint8Array }[]): string {
  const hash = createHash('sha256')
  for (const { room, frame } of sent) hash.update(`${room}\0${frame.byteLength}\0`).update(frame)
  return hash.digest('hex').slice(0, 16)
}

/** Replicas compared without the updates they hold pending (fuzzed updates may reference clocks that never come). */
function withoutPending(doc: Y.Doc): { doc: Y.Doc; pending: string } {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  const pendingStructs = copy.store.pendingStructs
  const pending = JSON.stringify({
    structs: pendingStructs ? [...Y.decodeStateVector(Y.encodeStateVectorFromUpdate(pendingStructs.update))].sort() : null,
    missing: pendingStructs ? [...pendingStructs.missing].sort() : null,
    ds: copy.store.pendingDs !== null
  })
  copy.store.pendingStructs = null
  copy.store.pendingDs = null
  return { doc: copy, pending }
}

function divergence(docs: readonly Y.Doc[]): string | null {
  const stripped = docs.map(withoutPending)
  const first = stripped[0]?.pending
  const pendingDiffers = stripped.find((s) => s.pending !== first)
  if (pendingDiffers) return `pending updates differ: ${first} vs ${pendingDiffers.pending}`
  return findDivergence(stripped.map((s) => s.doc))
}

it(TEST_NAME, async () => {
  for (const seed of readSeeds([20251123])) {
    await runWithSeed(TEST_NAME, seed, async () => {
      const plan = planFuzz(seed, ITERATIONS)
      console.log(`[quire] ${TEST_NAME}: seed ${seed}, ${plan.frames} frames in ${plan.connections.length} connections, plan digest ${plan.digest}`)
      const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-fuzz-'))
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
      // Every fuzz connection comes from 127.0.0.1, one after the other, hundreds a second:
      // the per-address new-connection rate would rightly refuse them, as it would any load test.
      const serverOptions = { dataDir, log: () => {}, limits: { maxNewConnectionsPerSecondPerIp: 1e9, newConnectionBurstPerIp: 1e9 } }
      let server = await startQuireServer(serverOptions)
      cleanups.push(() => server.close())
      const clients: StockClient[] = []
      cleanups.push(() => {
        for (const c of clients) c.destroy()
      })
      const join = async (): Promise<StockClient> => {
        const c = createStockClient(server.url, ROOM)
        clients.push(c)
        await c.synced()
        return c
      }

      const wellFormed = await join()
      let disconnects = 0
      wellFormed.provider.on('status', ({ status }: { status: string }) => {
        if (status === 'disconnected') disconnects++
      })
      wellFormed.provider.awareness.setLocalStateField('user', { name: 'well-formed' })
      const outcomes = new Map<string, number>()
      const outcomeLog = createHash('sha256')
      // Every fuzz frame as it goes out, in order.
      const wire: { room: string; frame: Uint8Array }[] = []
      let sent = 0
      let baseline = 0

      // One connection at a time, in plan order: the order matters to the server (what a
      // room holds decides what the next update adds), so it is part of the repro.
      for (const planned of plan.connections) {
        const outcome = await fuzzConnection(server, planned.room, planned.frames, (frame) => wire.push({ room: planned.room, frame: frame.slice() }))
        sent += planned.frames.length
        const kind = outcome.reason === END_REASON ? 'all accepted' : `${outcome.code}`
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1)
        outcomeLog.update(`${outcome.code} ${outcome.reason}\n`)
        if (kind !== 'all accepted') {
          // A fuzz frame was refused: with a protocol close code and a reason, never an abnormal close.
          expect([1003, 1007, 1008, 1009], `close ${outcome.code} ${outcome.reason}`).toContain(outcome.code)
          expect(outcome.reason).toMatch(/[a-z]{3,}/i)
        }
        if (planned.wellFormedEdit !== null) wellFormed.doc.getText('text').insert(0, planned.wellFormedEdit)
        if (baseline === 0 && sent > ITERATIONS / 10) baseline = heapBytes()
      }
      console.log(`[quire] fuzz outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}, outcome digest ${outcomeLog.digest('hex').slice(0, 16)}`)
      // What went over the wire is the seed's plan, frame for frame, in order (a plan
      // computed again from the seed alone).
      expect(digestOf(wire), 'digest of the frames sent, in the order sent').toBe(planFuzz(seed, ITERATIONS).digest)
      expect(sent).toBe(plan.frames)
      expect(outcomes.get('all accepted') ?? 0).toBeGreaterThan(0)
      expect([...outcomes.keys()].length).toBeGreaterThan(2)

      // The process is alive and holds no fuzz connection any more.
      let health = { connections: -1, unsavedUpdates: -1 }
      for (let attempt = 0; attempt < 500 && !(health.connections === 1 && health.unsavedUpdates === 0); attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 10))
        health = (await (await fetch(`${server.httpUrl}/healthz`)).json()) as typeof health
      }
      expect(health).toMatchObject({ connections: 1, unsavedUpdates: 0 })

      // Memory stays bounded: the heap after thousands of frames is near the one after the first tenth.
      const growth = heapBytes() - baseline
      console.log(`[quire] fuzz heap growth after warm-up: ${(growth / 1024 / 1024).toFixed(1)} MiB`)
      expect(growth).toBeLessThan(64 * 1024 * 1024)

      // The well-formed client was never disconnected, keeps editing, and a newcomer converges with it.
      expect(disconnects).toBe(0)
      wellFormed.doc.getText('text').insert(0, 'after the fuzz: ')
      const newcomer = await join()
      await waitUntil(() => divergence([wellFormed.doc, newcomer.doc]) === null, {
        describe: () => divergence([wellFormed.doc, newcomer.doc]) ?? ''
      })
      expect(newcomer.doc.getText('text').toString().startsWith('after the fuzz: ')).toBe(true)

      // The stored document loads: straight from storage into a Y.Doc, and through a restarted server.
      const expected = Y.encodeStateAsUpdate(wellFormed.doc)
      for (const c of clients.splice(0)) c.destroy()
      await server.close()
      const storage = await createLevelStorage(dataDir)
      const stored = await storage.load(ROOM)
      await storage.close()
      expect(stored.updates.length).toBeGreaterThan(0)
      const fromStorage = new Y.Doc()
      for (const update of stored.updates) Y.applyUpdate(fromStorage, update)
      server = await startQuireServer(serverOptions)
      const afterRestart = await join()
      const reference = new Y.Doc()
      Y.applyUpdate(reference, expected)
      await waitUntil(() => divergence([reference, afterRestart.doc, fromStorage]) === null, {
        describe: () => divergence([reference, afterRestart.doc, fromStorage]) ?? ''
      })
    })
  }
})
