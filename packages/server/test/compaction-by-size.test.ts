import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { encodeMessage, updateMetaOf, type Message } from '@quire/protocol'
import { createMemoryStorage, createServer, type ServerOptions, type Storage, type StoredLog } from '@quire/server'
import { createPrng, docFromUpdates, type Prng } from '@quire/testkit'
import { createCommitQueue } from '../src/commit/commit-queue.js'
import { DEFAULT_COMPACTION_POLICY, growthOfLog, needsCompaction, needsQuietCompaction, type LogGrowth } from '../src/compaction/compaction-policy.js'
import { createCompactionScheduler, type CompactionSchedulerOptions } from '../src/compaction/compaction-scheduler.js'
import { createCompactionThread, type CompactionThread } from '../src/compaction/compaction-thread.js'
import { quietLog } from '../src/log.js'
import { createRelayScheduler } from '../src/room/relay-scheduler.js'
import { createDetachedRoom } from './detached-room.js'
import { openRawClient, type RawClient } from './raw-client.js'
import { createStockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * What a room serves a joining client must cost no more to apply than a Y.Doc's own
 * encoding of the document, whatever shape the log has: `Y.mergeUpdates` of keystroke
 * updates keeps a struct per keystroke and every deleted character, so a log of large
 * merged updates is compacted by its size, a never-compacted log before its room opens,
 * and a busy room takes the snapshot too.
 */

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function start(options: ServerOptions): Promise<string> {
  const server = createServer(options)
  const { url } = await server.listen(0, '127.0.0.1')
  cleanups.push(() => server.close())
  return url.replace('http', 'ws')
}

async function join(url: string, room: string): Promise<RawClient> {
  const client = await openRawClient(url, room)
  cleanups.push(() => client.close())
  return client
}

/** A seeded typing session: one update per keystroke, with deletions, as an editor sends them. */
function typeKeystrokes(prng: Prng, keystrokes: number): { updates: Uint8Array[]; doc: Y.Doc } {
  const doc = new Y.Doc()
  doc.clientID = 7
  const text = doc.getText('t')
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  let caret = 0
  for (let i = 0; i < keystrokes; i++) {
    if (text.length > 0 && prng.bool(0.2)) {
      caret = Math.max(0, Math.min(caret, text.length) - 1)
      text.delete(caret, 1)
    } else {
      if (prng.bool(0.03)) caret = prng.int(0, text.length)
      text.insert(caret, prng.string(1))
      caret++
    }
  }
  return { updates, doc }
}

/** `updates` merged `groupSize` at a time: what a client or relay that batches keystrokes sends. */
function mergeInGroups(updates: readonly Uint8Array[], groupSize: number): Uint8Array[] {
  const groups: Uint8Array[] = []
  for (let i = 0; i < updates.length; i += groupSize) groups.push(Y.mergeUpdates(updates.slice(i, i + groupSize)))
  return groups
}

const totalBytes = (updates: readonly Uint8Array[]): number => updates.reduce((sum, update) => sum + update.byteLength, 0)
const joinableStructsOf = (update: Uint8Array): number => updateMetaOf(update).joinableStructs

interface Typist {
  readonly typed: number
  stop(): Promise<void>
}

/** A stock client typing one keystroke per macrotask, so its room never goes quiet and accepts updates while every compaction runs. */
async function startTypist(url: string, room: string): Promise<Typist> {
  const client = createStockClient(url, room)
  cleanups.push(() => client.destroy())
  await client.synced()
  const text = client.doc.getText('t')
  let typing = true
  const typist = {
    typed: 0,
    async stop() {
      typing = false
      await done
    }
  }
  const done = (async () => {
    while (typing) {
      text.insert(text.length, 'x')
      typist.typed++
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
  })()
  cleanups.push(() => typist.stop())
  return typist
}

/** Polls the stored log of `doc` until `holds` is true of it. */
async function untilStored(storage: Storage, doc: string, holds: (log: StoredLog) => boolean, timeoutMs = 30_000): Promise<StoredLog> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const log = await storage.load(doc)
    if (holds(log)) return log
    if (Date.now() > deadline) {
      throw new Error(`the stored log of "${doc}" did not get there in ${timeoutMs} ms: ${log.updates.length} updates, ${totalBytes(log.updates)} bytes, snapshot first: ${log.startsWithSnapshot}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function firstSyncReply(client: RawClient): Promise<Uint8Array> {
  await client.send(encodeMessage({ type: 'sync-step-1', stateVector: Y.encodeStateVector(new Y.Doc()) }))
  const reply = (await client.waitForMessage((m) => m.type === 'sync-step-2', 30_000)) as Extract<Message, { type: 'sync-step-2' }>
  return reply.update
}

describe('compaction policy', () => {
  const policy = DEFAULT_COMPACTION_POLICY
  it('compacts by update count, by bytes past a floor, and by bytes relative to the last snapshot', () => {
    const grown = (updatesSinceSnapshot: number, bytesSinceSnapshot: number, snapshotBytes: number): boolean =>
      needsCompaction({ updatesSinceSnapshot, bytesSinceSnapshot, joinableSinceSnapshot: 0, snapshotBytes }, policy)
    expect(grown(policy.maxUpdates, 0, 0)).toBe(false)
    expect(grown(policy.maxUpdates + 1, 0, 0)).toBe(true)
    expect(grown(10, policy.minBytes, 0)).toBe(false)
    expect(grown(10, policy.minBytes + 1, 0)).toBe(true)
    // A large snapshot raises the byte bound to its share of the snapshot.
    const snapshot = 10 * policy.minBytes
    expect(grown(10, snapshot * policy.bytesRatio, snapshot)).toBe(false)
    expect(grown(10, snapshot * policy.bytesRatio + 1, snapshot)).toBe(true)
  })

  it('compacts a room that went quiet after far less growth', () => {
    const quiet = (bytesSinceSnapshot: number, snapshotBytes: number): boolean =>
      needsQuietCompaction({ updatesSinceSnapshot: 2, bytesSinceSnapshot, joinableSinceSnapshot: 0, snapshotBytes }, policy)
    expect(quiet(policy.quietMinBytes, 0)).toBe(false)
    expect(quiet(policy.quietMinBytes + 1, 0)).toBe(true)
    const snapshot = 100 * policy.quietMinBytes
    expect(quiet(snapshot * policy.quietBytesRatio, snapshot)).toBe(false)
    expect(quiet(snapshot * policy.quietBytesRatio + 1, snapshot)).toBe(true)
    expect(policy.quietMinBytes).toBeLessThan(policy.minBytes)
    expect(policy.quietBytesRatio).toBeLessThan(policy.bytesRatio)
  })

  it('compacts a quiet room whose small tail still holds structs a Y.Doc would join', () => {
    // The last merged upload of a document: a few KiB on a large snapshot, under every byte bound.
    const tail = (joinableSinceSnapshot: number): LogGrowth => ({ updatesSinceSnapshot: 1, bytesSinceSnapshot: 2 * 1024, joinableSinceSnapshot, snapshotBytes: 200 * 1024 })
    expect(needsQuietCompaction(tail(policy.minJoinableStructs - 1), policy)).toBe(false)
    expect(needsQuietCompaction(tail(policy.minJoinableStructs), policy)).toBe(true)
    // While the room is busy the same tail waits: its clients apply it once, as it arrives.
    expect(needsCompaction(tail(policy.minJoinableStructs), policy)).toBe(false)
  })

  it('leaves a single update alone unless it has structs a Y.Doc would join, however large', () => {
    const single = (joinableSinceSnapshot: number): LogGrowth => ({ updatesSinceSnapshot: 1, bytesSinceSnapshot: 10 * policy.minBytes, joinableSinceSnapshot, snapshotBytes: 0 })
    // One Y.Doc encoding, uploaded whole: nothing to gain.
    expect(needsCompaction(single(0), policy)).toBe(false)
    expect(needsQuietCompaction(single(policy.minJoinableStructs - 1), policy)).toBe(false)
    // One merge of many keystrokes: far from compact.
    expect(needsCompaction(single(policy.minJoinableStructs), policy)).toBe(true)
    // Two updates may join or overlap.
    expect(needsCompaction({ ...single(0), updatesSinceSnapshot: 2 }, policy)).toBe(true)
  })

  it('counts every byte of a log that does not start with a snapshot as grown since one, and the joinable structs after the snapshot', () => {
    const { updates: keystrokes } = typeKeystrokes(createPrng(15), 200)
    const merged = Y.mergeUpdates(keystrokes)
    const compact = new Uint8Array(Y.encodeStateAsUpdate(docFromUpdates(keystrokes)))
    expect(joinableStructsOf(merged)).toBeGreaterThan(100)
    const updates = [compact, merged]
    expect(growthOfLog({ updates, lastSeq: 2, startsWithSnapshot: false })).toEqual({
      updatesSinceSnapshot: 2,
      bytesSinceSnapshot: compact.byteLength + merged.byteLength,
      joinableSinceSnapshot: joinableStructsOf(compact) + joinableStructsOf(merged),
      snapshotBytes: 0
    })
    expect(growthOfLog({ updates, lastSeq: 2, startsWithSnapshot: true })).toEqual({
      updatesSinceSnapshot: 1,
      bytesSinceSnapshot: merged.byteLength,
      joinableSinceSnapshot: joinableStructsOf(merged),
      snapshotBytes: compact.byteLength
    })
  })
})

describe('compaction by size and shape', () => {
  it('compacts a log of a few large merged updates, and a client joining the open room gets a compact document', async () => {
    const { updates, doc: reference } = typeKeystrokes(createPrng(11), 30_000)
    const uploads = mergeInGroups(updates, 300)
    // Far below the update count that triggers a compaction, far above the byte floor.
    expect(uploads.length).toBeLessThan(DEFAULT_COMPACTION_POLICY.maxUpdates / 5)
    expect(totalBytes(uploads)).toBeGreaterThan(2 * DEFAULT_COMPACTION_POLICY.minBytes)
    const compact = Y.encodeStateAsUpdate(reference)
    expect(totalBytes(uploads)).toBeGreaterThan(2 * compact.byteLength)

    const storage = createMemoryStorage()
    const url = await start({ storage })
    const writer = await join(url, 'merged uploads')
    for (const update of uploads) await writer.send(encodeMessage({ type: 'sync-update', update }))
    await untilStored(storage, 'merged uploads', (log) => log.startsWithSnapshot && log.updates.length === 1 && docFromUpdates(log.updates).getText('t').length === reference.getText('t').length)

    // The writer is still connected, so the room is still open: a warm load.
    const reader = await join(url, 'merged uploads')
    const served = await firstSyncReply(reader)
    expect(docFromUpdates([served]).getText('t').toString()).toBe(reference.getText('t').toString())
    expect(served.byteLength).toBeLessThanOrEqual(compact.byteLength * 1.05)
  })

  it('compacts a large log that was never compacted before its room opens, so the first sync is compact', async () => {
    const { updates, doc: reference } = typeKeystrokes(createPrng(12), 12_000)
    const storage = createMemoryStorage()
    // Written as an import or an older server would have left it: merged, no snapshot.
    for (const upload of mergeInGroups(updates, 300)) await storage.append([{ doc: 'imported', updates: [upload] }])
    const before = await storage.load('imported')
    expect(before.startsWithSnapshot).toBe(false)
    const compact = Y.encodeStateAsUpdate(reference)
    expect(totalBytes(before.updates)).toBeGreaterThan(2 * compact.byteLength)

    const url = await start({ storage })
    const served = await firstSyncReply(await join(url, 'imported'))
    expect(docFromUpdates([served]).getText('t').toString()).toBe(reference.getText('t').toString())
    expect(served.byteLength).toBeLessThanOrEqual(compact.byteLength * 1.05)
    const after = await storage.load('imported')
    expect(after.startsWithSnapshot).toBe(true)
    expect(after.updates).toHaveLength(1)
  })

  it('a busy room serves the snapshot of its last compaction while typing goes on', async () => {
    const storage = createMemoryStorage()
    const url = await start({ storage, compactAfter: 100 })
    const typist = await startTypist(url, 'busy room')
    await waitUntil(() => typist.typed >= 1500, { timeoutMs: 30_000, describe: () => `typed ${typist.typed}` })
    await untilStored(storage, 'busy room', (log) => log.startsWithSnapshot)
    const served = await firstSyncReply(await join(url, 'busy room'))
    await typist.stop()
    // Typed in one run at the end, the text is one struct in a Y.Doc's encoding; the
    // merged keystrokes are one struct each. The room holds a snapshot plus what arrived
    // since its last compaction started, a few hundred keystrokes at most.
    const servedLength = docFromUpdates([served]).getText('t').length
    expect(servedLength).toBeGreaterThan(1200)
    expect(Y.decodeUpdate(served).structs.length).toBeLessThan(400)
  })

  it('compacts by size while the room never goes quiet', async () => {
    const storage = createMemoryStorage()
    // No compaction by count: only the bytes can call for one here.
    const url = await start({ storage, compactAfter: 1_000_000 })
    const typist = await startTypist(url, 'busy uploads')
    const { updates } = typeKeystrokes(createPrng(14), 30_000)
    const uploads = mergeInGroups(updates, 300)
    expect(totalBytes(uploads)).toBeGreaterThan(2 * DEFAULT_COMPACTION_POLICY.minBytes)
    const uploader = await join(url, 'busy uploads')
    for (const update of uploads) await uploader.send(encodeMessage({ type: 'sync-update', update }))
    // The typist keeps the room busy, so only a compaction by size can have written this.
    await untilStored(storage, 'busy uploads', (log) => log.startsWithSnapshot)
    expect(typist.typed).toBeGreaterThan(0)
    await typist.stop()
  })
})

describe('compaction worker', () => {
  it('tells the embedder each time the worker thread has started (quire serve re-applies its heap flags then)', async () => {
    let started = 0
    const storage = createMemoryStorage()
    const url = await start({ storage, compactAfter: 5, onWorkerStarted: () => started++ })
    const writer = createStockClient(url, 'worker start')
    cleanups.push(() => writer.destroy())
    await writer.synced()
    for (let i = 0; i < 10; i++) writer.doc.getText('t').insert(0, 'x')
    await untilStored(storage, 'worker start', (log) => log.startsWithSnapshot)
    await waitUntil(() => started === 1, { describe: () => `started ${started} times` })
  })
})

/** A compaction thread that takes `ms` for each log, and records when each compaction ran. */
function slowThread(ms: number): CompactionThread & { runs: Array<{ startedAt: number; endedAt: number | undefined }> } {
  const runs: Array<{ startedAt: number; endedAt: number | undefined }> = []
  return {
    runs,
    async compact(updates) {
      const run = { startedAt: performance.now(), endedAt: undefined as number | undefined }
      runs.push(run)
      await new Promise((resolve) => setTimeout(resolve, ms))
      run.endedAt = performance.now()
      return Y.mergeUpdates(updates)
    },
    documentJson: async () => '{}',
    versionDiff: () => Promise.reject(new Error('not used here')),
    versionContent: () => Promise.reject(new Error('not used here')),
    restoreUpdate: () => Promise.reject(new Error('not used here')),
    close: async () => {}
  }
}

/** A compaction scheduler over `storage`, logging nothing, with no open rooms unless `openRoom` finds one. */
function schedulerOver(storage: Storage, thread: CompactionThread, options: Pick<CompactionSchedulerOptions, 'policy' | 'openRoom' | 'busy'>) {
  return createCompactionScheduler({ storage, commitQueue: createCommitQueue({ storage, log: quietLog, minIntervalMs: 10 }), thread, log: quietLog, ...options })
}

/** A scheduler over a memory storage holding `docs`, each with 300 keystrokes: past a bound of 100 updates, within the busy bound of 400. */
async function schedulerWithGrownLogs(docs: readonly string[], thread: CompactionThread, busy: () => boolean) {
  const storage = createMemoryStorage()
  const scheduler = schedulerOver(storage, thread, { policy: { ...DEFAULT_COMPACTION_POLICY, maxUpdates: 100 }, openRoom: () => undefined, busy })
  const grow = async (doc: string, seed: number): Promise<void> => {
    const { updates } = typeKeystrokes(createPrng(seed), 300)
    await storage.append([{ doc, updates }])
    await scheduler.prepareOpen(doc, { updates: [], lastSeq: 0, startsWithSnapshot: false })
    scheduler.noteAppended(doc, updates, 0)
  }
  for (const [i, doc] of docs.entries()) await grow(doc, 40 + i)
  return { storage, scheduler }
}

describe('compaction scheduler', () => {
  it('defers a compaction by count or size while the process is busy, and runs it once it is not', async () => {
    const storage = createMemoryStorage()
    const { updates } = typeKeystrokes(createPrng(16), 300)
    await storage.append([{ doc: 'busy', updates }])
    const commitQueue = createCommitQueue({ storage, log: quietLog, minIntervalMs: 10 })
    const thread = createCompactionThread()
    cleanups.push(() => thread.close())
    let busy = true
    const scheduler = createCompactionScheduler({
      storage,
      commitQueue,
      thread,
      log: quietLog,
      policy: { ...DEFAULT_COMPACTION_POLICY, maxUpdates: 100 },
      openRoom: () => undefined,
      busy: () => busy
    })
    // 300 updates: past the bound of 100, within the busy bound of 400.
    await scheduler.prepareOpen('busy', { updates: [], lastSeq: 0, startsWithSnapshot: false })
    scheduler.noteAppended('busy', updates, 0)
    await scheduler.idle()
    expect((await storage.load('busy')).startsWithSnapshot).toBe(false)
    busy = false
    scheduler.noteAppended('busy', [], 0)
    await scheduler.idle()
    expect((await storage.load('busy')).startsWithSnapshot).toBe(true)
  })

  it('paces compactions of grown logs: after one that took d ms, the next starts no sooner than 3d after it', async () => {
    const thread = slowThread(60)
    await schedulerWithGrownLogs(['a', 'b', 'c'], thread, () => false)
    await waitUntil(() => thread.runs.length === 3 && thread.runs[2]!.endedAt !== undefined)
    for (let i = 1; i < 3; i++) {
      const previous = thread.runs[i - 1]!
      const took = previous.endedAt! - previous.startedAt
      // A timer may fire a millisecond or two early.
      expect(thread.runs[i]!.startedAt - previous.endedAt!).toBeGreaterThanOrEqual(3 * took - 5)
    }
  })

  it('pauses at most 250 ms after a long compaction, so that under a sustained upload the next one does not grow three times as long', async () => {
    const thread = slowThread(400)
    await schedulerWithGrownLogs(['a', 'b'], thread, () => false)
    await waitUntil(() => thread.runs.length === 2)
    const first = thread.runs[0]!
    const second = thread.runs[1]!
    const pause = second.startedAt - first.endedAt!
    // 3 x 400 ms unbounded; a timer may fire a millisecond or two early.
    expect(pause).toBeGreaterThanOrEqual(245)
    expect(pause).toBeLessThan(600)
    await waitUntil(() => second.endedAt !== undefined)
  })

  it('a queued compaction whose room went quiet does not wait out the pause, unless the process is busy', async () => {
    const thread = slowThread(200)
    let busy = false
    const { scheduler } = await schedulerWithGrownLogs(['first', 'quiet', 'other'], thread, () => busy)
    await waitUntil(() => thread.runs[0]?.endedAt !== undefined)
    // 'quiet' and 'other' wait out the pause (250 ms, the most it lasts); 'quiet' goes quiet: it starts now.
    expect(scheduler.noteQuiet('quiet')).toBe(true)
    await waitUntil(() => thread.runs.length === 2)
    const first = thread.runs[0]!
    expect(thread.runs[1]!.startedAt - first.endedAt!).toBeLessThan(100)
    await waitUntil(() => thread.runs[1]!.endedAt !== undefined)
    // While busy, going quiet changes nothing: 'other' waits (past its pause, and past a busy retry).
    busy = true
    expect(scheduler.noteQuiet('other')).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 900))
    expect(thread.runs).toHaveLength(2)
    busy = false
    await waitUntil(() => thread.runs.length === 3)
    await scheduler.idle()
  })

  it('while the process is busy, a queued compaction of a grown log waits; one asked for does not', async () => {
    const thread = slowThread(30)
    let busy = false
    const { storage, scheduler } = await schedulerWithGrownLogs(['first', 'queued'], thread, () => busy)
    busy = true
    await waitUntil(() => thread.runs[0]?.endedAt !== undefined)
    // Past the pause after the first, well past a busy retry: still waiting.
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(thread.runs).toHaveLength(1)
    await storage.append([{ doc: 'asked', updates: typeKeystrokes(createPrng(50), 20).updates }])
    await scheduler.compact('asked')
    expect(thread.runs).toHaveLength(2)
    busy = false
    await waitUntil(() => thread.runs.length === 3)
    await scheduler.idle()
    expect((await storage.load('queued')).startsWithSnapshot).toBe(true)
  })

  it('a compaction that fails leaves the log as it was and is not retried in a loop', async () => {
    const storage = createMemoryStorage()
    const { updates } = typeKeystrokes(createPrng(13), 3000)
    const good = mergeInGroups(updates, 100)
    // A record cut short: the worker's Y.Doc throws on it.
    const broken = good[0]!.subarray(0, Math.floor(good[0]!.byteLength / 2))
    await storage.append([{ doc: 'broken', updates: [...good, broken, ...good] }])
    let loads = 0
    const counting: Storage = { ...storage, load: (doc) => (loads++, storage.load(doc)) }
    const commitQueue = createCommitQueue({ storage: counting, log: quietLog, minIntervalMs: 10 })
    const thread = createCompactionThread()
    cleanups.push(() => thread.close())
    const errors: string[] = []
    const scheduler = createCompactionScheduler({
      storage: counting,
      commitQueue,
      thread,
      log: (level, message) => {
        if (level === 'error') errors.push(message)
      },
      policy: { ...DEFAULT_COMPACTION_POLICY, minBytes: 1024 },
      openRoom: () => undefined
    })
    const log = await storage.load('broken')
    const opened = await scheduler.prepareOpen('broken', log)
    expect(opened.updates).toEqual(log.updates)
    // idle() would never resolve if the failure queued the same compaction again.
    await scheduler.idle()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/compaction of "broken" failed/)
    const loadsAfterFailure = loads
    // A little more appended does not call for another attempt yet.
    scheduler.noteAppended('broken', [good[1]!], joinableStructsOf(good[1]!))
    await scheduler.idle()
    expect(loads).toBe(loadsAfterFailure)
  })
})

describe('a quiet room\'s fold', () => {
  it('folds a large state on the worker (the room takes its snapshot, storage is left as it was); a small one is left to the room', async () => {
    const relays = createRelayScheduler()
    cleanups.push(() => relays.close())
    const thread = createCompactionThread()
    cleanups.push(() => thread.close())
    const prng = createPrng(61)
    const writer = new Y.Doc()
    writer.clientID = 5
    const updates: Uint8Array[] = []
    writer.on('update', (update: Uint8Array) => updates.push(update))
    // A large document stored as a snapshot, then a few small edits (what a backend appends through the API).
    writer.getText('t').insert(0, prng.string(100_000))
    for (let i = 0; i < 3; i++) writer.getText('t').insert(prng.int(0, 1000), `edit ${i}`)
    const big = createDetachedRoom('big', relays, updates)
    const small = createDetachedRoom('small', relays, typeKeystrokes(createPrng(62), 20).updates)
    const rooms = new Map([['big', big], ['small', small]])
    const storage = createMemoryStorage()
    const scheduler = schedulerOver(storage, thread, { policy: DEFAULT_COMPACTION_POLICY, openRoom: (doc) => rooms.get(doc) })
    expect(scheduler.noteQuiet('small')).toBe(false)
    expect(scheduler.noteQuiet('big')).toBe(true)
    await scheduler.idle()
    expect(small.parts()).toHaveLength(20)
    expect(big.parts()).toHaveLength(1)
    expect(docFromUpdates(big.parts()).getText('t').toString()).toBe(writer.getText('t').toString())
    // Not a compaction: the stored log is not touched.
    expect(scheduler.completed).toBe(0)
    expect((await storage.load('big')).updates).toHaveLength(0)
  })
})

/** A short editing session: `edits` updates of a few words each, typed at the end, as most documents are written. */
function typeWords(prng: Prng, edits: number): { updates: Uint8Array[]; doc: Y.Doc } {
  const doc = new Y.Doc()
  doc.clientID = 9
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (let i = 0; i < edits; i++) doc.getText('t').insert(doc.getText('t').length, prng.string(25))
  return { updates, doc }
}

describe('documents edited for a while and closed', () => {
  it('are compacted once their room leaves memory, though nothing waited for the room to go quiet', async () => {
    const { updates, doc: reference } = typeWords(createPrng(71), 160)
    // What the storm bench's documents are: below every bound but the quiet ones.
    const growth = growthOfLog({ updates, lastSeq: updates.length, startsWithSnapshot: false })
    expect(needsCompaction(growth, DEFAULT_COMPACTION_POLICY)).toBe(false)
    expect(needsQuietCompaction(growth, DEFAULT_COMPACTION_POLICY)).toBe(true)
    const storage = createMemoryStorage()
    const url = await start({ storage })
    const writer = await openRawClient(url, 'closed after editing')
    for (const update of updates) await writer.send(encodeMessage({ type: 'sync-update', update }))
    await firstSyncReply(writer)
    writer.close()
    const log = await untilStored(storage, 'closed after editing', (stored) => stored.startsWithSnapshot && stored.updates.length === 1, 15_000)
    expect(docFromUpdates(log.updates).getText('t').toString()).toBe(reference.getText('t').toString())
  })

  it('opened from a log a quiet compaction calls for (a server killed before it ran), and only read, are compacted once their room leaves memory', async () => {
    const { updates, doc: reference } = typeWords(createPrng(72), 160)
    const storage = createMemoryStorage()
    await storage.append([{ doc: 'left uncompacted', updates }])
    const url = await start({ storage })
    const reader = await openRawClient(url, 'left uncompacted')
    expect(docFromUpdates([await firstSyncReply(reader)]).getText('t').toString()).toBe(reference.getText('t').toString())
    reader.close()
    const log = await untilStored(storage, 'left uncompacted', (stored) => stored.startsWithSnapshot && stored.updates.length === 1, 15_000)
    expect(docFromUpdates(log.updates).getText('t').toString()).toBe(reference.getText('t').toString())
    const reopened = await firstSyncReply(await join(url, 'left uncompacted'))
    expect(reopened.byteLength).toBeLessThanOrEqual(Y.encodeStateAsUpdate(reference).byteLength * 1.05)
  })

  it('a closing server drops the compactions of rooms that left, and a deleted document queues none', async () => {
    const thread = slowThread(50)
    let busy = false
    const storage = createMemoryStorage()
    const scheduler = schedulerOver(storage, thread, { policy: DEFAULT_COMPACTION_POLICY, openRoom: () => undefined, busy: () => busy })
    const edited = async (doc: string, seed: number): Promise<void> => {
      const { updates } = typeWords(createPrng(seed), 160)
      await storage.append([{ doc, updates }])
      await scheduler.prepareOpen(doc, { updates: [], lastSeq: 0, startsWithSnapshot: false })
      scheduler.noteAppended(doc, updates, 0)
    }
    for (const [i, doc] of ['deleted', 'left', 'left at close'].entries()) await edited(doc, 80 + i)
    expect(thread.runs).toHaveLength(0)

    scheduler.noteEvicted('deleted', 'deleted')
    scheduler.noteEvicted('left', 'idle')
    await untilStored(storage, 'left', (log) => log.startsWithSnapshot, 15_000)
    // Past the pause after it: a queued job would have started by now.
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(thread.runs).toHaveLength(1)
    expect((await storage.load('deleted')).startsWithSnapshot).toBe(false)

    // Held back while busy; closing drops it rather than wait.
    busy = true
    scheduler.noteEvicted('left at close', 'idle')
    await scheduler.idle()
    expect(thread.runs).toHaveLength(1)
    expect((await storage.load('left at close')).startsWithSnapshot).toBe(false)
  })
})
