import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createMemoryStorage, quietLog } from '@quire/server'
import { createCompactionThread } from '../src/compaction/compaction-thread.js'
import { createVersionHistory, type VersionHistory, type VersionHistoryOptions } from '../src/history/version-history.js'
import { parseRetention, versionsToThin } from '../src/history/retention-policy.js'
import type { VersionInfo } from '../src/storage/version-store.js'

/**
 * Retention: automatic versions thinned by age bands while named ones stay, and every
 * version left still rebuilds to exactly the document it recorded (its chain is whole
 * after rebasing), across checkpoints.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A history over a memory storage and a compaction thread of its own, both closed after the test. */
function historyInMemory(options: Pick<VersionHistoryOptions, 'retention' | 'checkpointEvery'> & { now?: () => number }): { storage: ReturnType<typeof createMemoryStorage>; history: VersionHistory } {
  const storage = createMemoryStorage()
  const thread = createCompactionThread()
  cleanups.push(() => thread.close())
  const history = createVersionHistory({
    versions: storage.versions!,
    storage,
    thread,
    openRoom: () => undefined,
    idleMs: 60_000,
    maxIntervalMs: 60_000,
    log: quietLog,
    ...options
  })
  cleanups.push(() => history.close())
  return { storage, history }
}

const HOUR = 3_600_000
const DAY = 24 * HOUR

describe('retention policy', () => {
  it('reads bands and refuses malformed ones', () => {
    expect(parseRetention('1d,30d:1d,*:7d')).toEqual({ ok: true, policy: [{ upTo: DAY, every: 0 }, { upTo: 30 * DAY, every: DAY }, { upTo: Infinity, every: 7 * DAY }] })
    expect(parseRetention('*')).toEqual({ ok: true, policy: [{ upTo: Infinity, every: 0 }] })
    for (const bad of ['', '1x', '30d:1d,1d', '1d:*', '1d:2d:3d', '-1d']) expect(parseRetention(bad).ok).toBe(false)
  })

  it('keeps named versions and the newest, all of the last day, one a day, and drops past the last band', () => {
    const now = 100 * DAY
    const parsed = parseRetention('1d,3d:1d')
    if (!parsed.ok) throw new Error(parsed.message)
    const policy = parsed.policy
    const at = (id: number, ageMs: number, kind: VersionInfo['kind'] = 'auto'): VersionInfo => ({
      id, createdAt: now - ageMs, name: kind === 'auto' ? null : 'n', kind, restoredFrom: null, authors: [], summary: { inserted: 0, deleted: 0 }, base: null, bytes: 1
    })
    const versions = [at(1, 10 * DAY), at(2, 10 * DAY, 'named'), at(3, 2 * DAY + 5 * HOUR), at(4, 2 * DAY + 2 * HOUR), at(5, 5 * HOUR), at(6, 1 * HOUR)]
    // 1: older than every band; 3 and 4 share a day (4 is newer and stays); 5, 6 are within a day.
    expect(versionsToThin(versions, policy, now)).toEqual([1, 3])
  })
})

describe('thinning a recorded history', () => {
  it('drops automatic versions, keeps named ones, and every kept version rebuilds to what it recorded', async () => {
    let clock = 0
    const retention = parseRetention('1h,*:1d')
    if (!retention.ok) throw new Error(retention.message)
    const { storage, history } = historyInMemory({ retention: retention.policy, checkpointEvery: 4, now: () => clock })
    const doc = new Y.Doc()
    const text = doc.getText('t')
    const recorded = new Map<number, string>()
    // Ten days, four versions a day (every 6 hours), one named a day; edits between all of them.
    for (let step = 0; step < 40; step++) {
      clock = step * 6 * HOUR
      const before = Y.encodeStateVector(doc)
      text.insert(text.length, `step ${step}. `)
      if (step % 3 === 0 && text.length > 10) text.delete(0, 3)
      await storage.append([{ doc: 'thin', updates: [Y.encodeStateAsUpdate(doc, before)] }])
      const version = await history.record('thin', step % 4 === 2 ? { kind: 'named', name: `day ${step / 4}` } : { kind: 'auto' })
      if (version) recorded.set(version.id, text.toString())
    }
    const kept = await history.list('thin')
    const named = kept.filter((v) => v.kind === 'named')
    const auto = kept.filter((v) => v.kind === 'auto')
    expect(named).toHaveLength(10)
    // One a day for the older days, and the newest: far fewer than the 30 recorded.
    expect(auto.length).toBeLessThanOrEqual(12)
    expect(auto.length).toBeGreaterThanOrEqual(9)
    for (const version of kept) {
      const content = await history.content('thin', version.id)
      const rebuilt = new Y.Doc()
      Y.applyUpdate(rebuilt, content!)
      expect({ id: version.id, text: rebuilt.getText('t').toString() }).toEqual({ id: version.id, text: recorded.get(version.id) })
    }
    // Every base a version names is still there: no chain is broken.
    const ids = new Set(kept.map((v) => v.id))
    for (const version of kept) if (version.base !== null) expect(ids.has(version.base)).toBe(true)
  })
})

describe('checkpoints', () => {
  it('stores a long document edited a little as diffs, and the whole state once the diffs weigh as much as it, or the chain is at its longest', async () => {
    const { storage, history } = historyInMemory({ retention: [{ upTo: Infinity, every: 0 }], checkpointEvery: 12 })
    const doc = new Y.Doc()
    const text = doc.getText('t')
    const write = async (edit: () => void): Promise<VersionInfo> => {
      const before = Y.encodeStateVector(doc)
      edit()
      await storage.append([{ doc: 'long', updates: [Y.encodeStateAsUpdate(doc, before)] }])
      return (await history.record('long', { kind: 'named', name: 'v' }))!
    }
    const first = await write(() => text.insert(0, 'a long paragraph of text. '.repeat(400)))
    expect(first.base).toBeNull()
    // Small edits: diffs, each against the one before, until the chain is 12 long.
    const small: VersionInfo[] = []
    for (let i = 0; i < 12; i++) small.push(await write(() => text.insert(i * 3, 'xy')))
    expect(small.slice(0, 11).map((v) => v.base)).toEqual([first.id, ...small.slice(0, 10).map((v) => v.id)])
    expect(small.slice(0, 11).every((v) => v.bytes < first.bytes / 20)).toBe(true)
    expect(small[11]!.base).toBeNull()
    // A rewrite of most of the document: its diff weighs about as much as a copy, so the next one is whole.
    const rewrite = await write(() => {
      text.delete(0, text.length)
      text.insert(0, 'something else entirely. '.repeat(600))
    })
    expect(rewrite.base).toBe(small[11]!.id)
    const after = await write(() => text.insert(0, 'z'))
    expect(after.base).toBeNull()
  })
})
