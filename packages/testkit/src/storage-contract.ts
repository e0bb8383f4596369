import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { NewVersion, Storage, VersionStore } from '@quire/server'

export interface StorageContractOptions {
  /** A fresh, empty storage. */
  readonly create: () => Promise<Storage>
  /** Closes and reopens the same store, when the backend is durable. */
  readonly reopen?: (storage: Storage) => Promise<Storage>
  /**
   * A second handle on the same store, as another server clone would open it. Without
   * it (a store one process owns), the clone cases run their two writers through one
   * handle, concurrently all the same.
   */
  readonly openSecond?: (storage: Storage) => Promise<Storage>
}

function textUpdate(text: string, clientID = 1): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

/** The text a document built from `updates` holds: the same for the same updates in any order. */
function docText(updates: readonly Uint8Array[]): string {
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, update)
  return doc.getText('t').toString()
}

function clientOf(update: Uint8Array): number {
  return Y.decodeUpdate(update).structs[0]?.id.client ?? -1
}

/** Names chosen to break naive key schemes: prefixes of each other, separators, surrogates. */
const TRICKY_NAMES = ['', 'a', 'a\u0000', 'ab', 'a/b', '../a', '%2F', 'ü', '\uD800', '\uDBFF', 'x'.repeat(300), 'u\u0001']

/**
 * The behaviour every Storage must have. Run it against each backend so that swapping
 * LevelDB for another store is a swap, not a rewrite.
 */
export function describeStorageContract(name: string, options: StorageContractOptions): void {
  describe(`storage contract: ${name}`, () => {
    it('loads an unknown document as empty', async () => {
      const storage = await options.create()
      expect(await storage.load('nothing here')).toEqual({ updates: [], lastSeq: 0, startsWithSnapshot: false })
      await storage.close()
    })

    it('keeps appended updates in order, per document', async () => {
      const storage = await options.create()
      const a1 = textUpdate('a1')
      const a2 = textUpdate('a2', 2)
      const b1 = textUpdate('b1')
      await storage.append([
        { doc: 'a', updates: [a1] },
        { doc: 'b', updates: [b1] }
      ])
      await storage.append([{ doc: 'a', updates: [a2] }])
      const a = await storage.load('a')
      expect(a.updates).toEqual([a1, a2])
      expect(a.lastSeq).toBeGreaterThan(0)
      expect((await storage.load('b')).updates).toEqual([b1])
      expect((await storage.list()).sort()).toEqual(['a', 'b'])
      await storage.close()
    })

    it('keeps order across appends of one and of many updates of a document', async () => {
      const storage = await options.create()
      const updates = Array.from({ length: 12 }, (_, i) => textUpdate(`u${i}`, i + 1))
      // Batches of 1, 3, 1, 5, 2 updates: backends may store a batch's updates together.
      const sizes = [1, 3, 1, 5, 2]
      let next = 0
      for (const size of sizes) {
        await storage.append([{ doc: 'mixed', updates: updates.slice(next, next + size) }, { doc: 'other', updates: [textUpdate(`o${next}`)] }])
        next += size
      }
      expect((await storage.load('mixed')).updates).toEqual(updates)
      expect((await storage.load('other')).updates).toHaveLength(sizes.length)
      await storage.close()
    })

    it('lists a deleted document again once it is written again', async () => {
      const storage = await options.create()
      await storage.append([{ doc: 'again', updates: [textUpdate('first')] }])
      await storage.delete('again')
      expect(await storage.list()).toEqual([])
      await storage.append([{ doc: 'again', updates: [textUpdate('second')] }])
      expect(await storage.list()).toEqual(['again'])
      expect((await storage.load('again')).updates).toEqual([textUpdate('second')])
      await storage.close()
    })

    it('never mixes documents whose names are prefixes, separators or odd code units', async () => {
      const storage = await options.create()
      await storage.append(TRICKY_NAMES.map((doc, i) => ({ doc, updates: [textUpdate(`doc ${i}`)] })))
      for (const [i, doc] of TRICKY_NAMES.entries()) {
        expect((await storage.load(doc)).updates, JSON.stringify(doc)).toEqual([textUpdate(`doc ${i}`)])
      }
      expect((await storage.list()).sort()).toEqual([...TRICKY_NAMES].sort())
      await storage.close()
    })

    it('replaces a prefix of the log by a snapshot and keeps later updates', async () => {
      const storage = await options.create()
      const [u1, u2, u3] = [textUpdate('one'), textUpdate('two', 2), textUpdate('three', 3)]
      await storage.append([{ doc: 'd', updates: [u1!, u2!] }])
      const { lastSeq } = await storage.load('d')
      await storage.append([{ doc: 'd', updates: [u3!] }])
      expect((await storage.load('d')).startsWithSnapshot).toBe(false)
      const snapshot = Y.mergeUpdates([u1!, u2!])
      await storage.replace('d', snapshot, lastSeq)
      const replaced = await storage.load('d')
      expect(replaced.updates).toEqual([snapshot, u3])
      // The server sizes its next compaction by the snapshot, so it must know which it is.
      expect(replaced.startsWithSnapshot).toBe(true)
      // A compaction of a log that already starts with a snapshot replaces that snapshot.
      const again = Y.mergeUpdates([snapshot, u3!])
      await storage.replace('d', again, replaced.lastSeq)
      expect(await storage.load('d')).toEqual({ updates: [again], lastSeq: replaced.lastSeq, startsWithSnapshot: true })
      await storage.close()
    })

    it('deletes one document and nothing else', async () => {
      const storage = await options.create()
      await storage.append([
        { doc: 'a', updates: [textUpdate('a')] },
        { doc: 'a\u0000', updates: [textUpdate('b')] }
      ])
      await storage.delete('a')
      expect((await storage.load('a')).updates).toEqual([])
      expect((await storage.load('a\u0000')).updates).toEqual([textUpdate('b')])
      expect(await storage.list()).toEqual(['a\u0000'])
      await storage.close()
    })

    it('leaves a log alone when a compaction older than its snapshot arrives late', async () => {
      const storage = await options.create()
      await storage.append([{ doc: 'd', updates: [textUpdate('one'), textUpdate('two', 2)] }])
      const early = await storage.load('d')
      await storage.append([{ doc: 'd', updates: [textUpdate('three', 3)] }])
      const late = await storage.load('d')
      const newer = Y.mergeUpdates(late.updates)
      await storage.replace('d', newer, late.lastSeq)
      // Another clone's compaction, begun on the earlier log, finishes last.
      await storage.replace('d', Y.mergeUpdates(early.updates), early.lastSeq)
      expect(await storage.load('d')).toEqual({ updates: [newer], lastSeq: late.lastSeq, startsWithSnapshot: true })
      await storage.close()
    })

    it('does not bring a deleted document back from a compaction that read it before the delete', async () => {
      const storage = await options.create()
      await storage.append([{ doc: 'd', updates: [textUpdate('old')] }])
      const before = await storage.load('d')
      await storage.delete('d')
      const fresh = textUpdate('new', 2)
      await storage.append([{ doc: 'd', updates: [fresh] }])
      await storage.replace('d', Y.mergeUpdates(before.updates), before.lastSeq)
      expect((await storage.load('d')).updates).toEqual([fresh])
      await storage.close()
    })

    describe('what the document API needs', () => {
      const sizeOf = (updates: readonly Uint8Array[]): number => updates.reduce((sum, u) => sum + u.byteLength, 0)

      it('tells a stored document\'s bytes, last change time and last sequence number, and nothing of an unknown one', async () => {
        const storage = await options.create()
        expect(await storage.info('nothing here')).toBeNull()
        const before = Date.now()
        const first = [textUpdate('one'), textUpdate('two', 2)]
        // Large enough to take LevelDB's direct path, beside a small one in a commit record.
        const large = textUpdate('x'.repeat(6000), 3)
        await storage.append([{ doc: 'd', updates: first }, { doc: 'big', updates: [large] }])
        const info = await storage.info('d')
        expect(info).toMatchObject({ name: 'd', bytes: sizeOf(first), lastSeq: (await storage.load('d')).lastSeq })
        expect(info!.updatedAt).toBeGreaterThanOrEqual(before - 1000)
        expect(info!.updatedAt).toBeLessThanOrEqual(Date.now() + 1000)
        expect(await storage.info('big')).toMatchObject({ bytes: large.byteLength })
        const more = textUpdate('three', 4)
        await storage.append([{ doc: 'd', updates: [more] }])
        const later = await storage.info('d')
        expect(later!.bytes).toBe(sizeOf([...first, more]))
        expect(later!.lastSeq).toBeGreaterThan(info!.lastSeq)
        expect(later!.updatedAt).toBeGreaterThanOrEqual(info!.updatedAt!)
        // A compaction changes the bytes, not what the document is.
        const snapshot = Y.mergeUpdates([...first, more])
        await storage.replace('d', snapshot, later!.lastSeq)
        expect(await storage.info('d')).toMatchObject({ bytes: snapshot.byteLength, lastSeq: later!.lastSeq })
        await storage.delete('d')
        expect(await storage.info('d')).toBeNull()
        await storage.close()
      })

      it('lists documents a page at a time by name, each once, with a prefix', async () => {
        const storage = await options.create()
        await storage.append(TRICKY_NAMES.map((doc, i) => ({ doc, updates: [textUpdate(`doc ${i}`)] })))
        await storage.append([{ doc: 'gone', updates: [textUpdate('gone')] }])
        await storage.delete('gone', { refuseUntil: Date.now() + 60_000 })
        const readAll = async (prefix: string | undefined, limit: number): Promise<string[]> => {
          const names: string[] = []
          let after: string | undefined
          for (let pages = 0; pages < 100; pages++) {
            const page = await storage.listDocuments({ ...(prefix === undefined ? {} : { prefix }), ...(after === undefined ? {} : { after }), limit })
            expect(page.documents.length).toBeLessThanOrEqual(limit)
            names.push(...page.documents.map((d) => d.name))
            if (!page.more) return names
            after = page.documents.at(-1)!.name
          }
          throw new Error('listing did not end')
        }
        for (const limit of [1, 3, 100]) {
          const names = await readAll(undefined, limit)
          expect([...names].sort(), `limit ${limit}`).toEqual([...TRICKY_NAMES].sort())
          expect(new Set(names).size).toBe(names.length)
        }
        const withA = await readAll('a', 2)
        expect(withA.sort()).toEqual(TRICKY_NAMES.filter((n) => n.startsWith('a')).sort())
        expect(await readAll('nope', 5)).toEqual([])
        const page = await storage.listDocuments({ prefix: 'ab', limit: 10 })
        expect(page).toEqual({ documents: [{ name: 'ab', bytes: textUpdate('doc 3').byteLength, updatedAt: expect.any(Number), lastSeq: expect.any(Number) }], more: false })
        await storage.close()
      })

      it('keeps a tombstone until it expires, and an explicit create clears it', async () => {
        let storage = await options.create()
        await storage.append([{ doc: 'd', updates: [textUpdate('old')] }, { doc: 'other', updates: [textUpdate('other')] }])
        const until = Date.now() + 30 * 24 * 3600 * 1000
        await storage.delete('d', { refuseUntil: until })
        expect(await storage.tombstone('d')).toBe(until)
        expect(await storage.tombstone('other')).toBeNull()
        expect(await storage.tombstone('never')).toBeNull()
        expect(await storage.list()).toEqual(['other'])
        if (options.reopen) storage = await options.reopen(storage)
        expect(await storage.tombstone('d')).toBe(until)
        expect(await storage.create('d')).toBe(true)
        expect(await storage.tombstone('d')).toBeNull()
        // Created empty, and listed.
        expect(await storage.info('d')).toMatchObject({ name: 'd', bytes: 0 })
        expect((await storage.load('d')).updates).toEqual([])
        expect((await storage.list()).sort()).toEqual(['d', 'other'])
        expect(await storage.create('d')).toBe(false)
        expect(await storage.create('other')).toBe(false)
        expect(await storage.create('fresh')).toBe(true)
        await storage.close()
      })

      it('keeps a tombstone through an append (only create clears it)', async () => {
        const storage = await options.create()
        await storage.append([{ doc: 'd', updates: [textUpdate('old')] }])
        const until = Date.now() + 60_000
        await storage.delete('d', { refuseUntil: until })
        // A write that raced the delete (another clone's) is kept, and the room stays refused.
        await storage.append([{ doc: 'd', updates: [textUpdate('late', 2)] }])
        expect(await storage.tombstone('d')).toBe(until)
        expect(await storage.create('d')).toBe(false)
        expect(await storage.tombstone('d')).toBeNull()
        await storage.close()
      })

      it('ignores an expired tombstone and keeps none without refuseUntil', async () => {
        const storage = await options.create()
        await storage.append([{ doc: 'a', updates: [textUpdate('a')] }, { doc: 'b', updates: [textUpdate('b')] }])
        await storage.delete('a', { refuseUntil: Date.now() - 1 })
        await storage.delete('b')
        expect(await storage.tombstone('a')).toBeNull()
        expect(await storage.tombstone('b')).toBeNull()
        // Asked twice: the first answer may have cleaned it up.
        expect(await storage.tombstone('a')).toBeNull()
        await storage.close()
      })

      it('does not bring a document back from a compaction read before its delete, after an explicit create', async () => {
        const storage = await options.create()
        await storage.append([{ doc: 'd', updates: [textUpdate('old')] }])
        const before = await storage.load('d')
        await storage.delete('d', { refuseUntil: Date.now() + 60_000 })
        await storage.create('d')
        const fresh = textUpdate('new', 2)
        await storage.append([{ doc: 'd', updates: [fresh] }])
        await storage.replace('d', Y.mergeUpdates(before.updates), before.lastSeq)
        expect((await storage.load('d')).updates).toEqual([fresh])
        await storage.close()
      })
    })

    describe('what server clones need', () => {
      const openBoth = async (): Promise<[Storage, Storage]> => {
        const first = await options.create()
        return [first, options.openSecond ? await options.openSecond(first) : first]
      }
      const closeBoth = async ([first, second]: [Storage, Storage]): Promise<void> => {
        if (second !== first) await second.close()
        await first.close()
      }

      it('keeps every update of two writers appending to one document at once, each in its order, and a reader never sees a gap', async () => {
        const [first, second] = await openBoth()
        const rounds = 40
        const writes = (storage: Storage, client: number): Promise<void> =>
          (async () => {
            for (let i = 0; i < rounds; i++) {
              await storage.append([{ doc: 'shared', updates: [textUpdate(`${client}:${i}`, client * 1000 + i)] }])
            }
          })()
        // Every load must be a prefix of the final log: a later load that shows an update
        // between two it showed before means a reader could have missed it (a compaction
        // up to its lastSeq would drop it).
        const seen: Uint8Array[][] = []
        let writing = true
        const reader = (async () => {
          while (writing) seen.push((await second.load('shared')).updates)
        })()
        await Promise.all([writes(first, 1), writes(second, 2)])
        writing = false
        await reader
        const final = await first.load('shared')
        expect(final.updates).toHaveLength(2 * rounds)
        for (const client of [1, 2]) {
          const own = final.updates.filter((u) => Math.floor(clientOf(u) / 1000) === client)
          expect(own).toEqual(Array.from({ length: rounds }, (_, i) => textUpdate(`${client}:${i}`, client * 1000 + i)))
        }
        for (const load of seen) expect(final.updates.slice(0, load.length)).toEqual(load)
        expect((await second.load('shared')).lastSeq).toBe(final.lastSeq)
        await closeBoth([first, second])
      })

      it('loses nothing when appends race a compaction', async () => {
        const [first, second] = await openBoth()
        const all: Uint8Array[] = []
        const append = async (storage: Storage, update: Uint8Array): Promise<void> => {
          all.push(update)
          await storage.append([{ doc: 'd', updates: [update] }])
        }
        let client = 1
        for (let round = 0; round < 15; round++) {
          await append(first, textUpdate(`before ${round}`, client++))
          const log = await second.load('d')
          // The compaction's write and other appends, in flight together.
          await Promise.all([
            second.replace('d', Y.mergeUpdates(log.updates), log.lastSeq),
            append(first, textUpdate(`during ${round}`, client++)),
            append(second, textUpdate(`during' ${round}`, client++))
          ])
        }
        const final = await first.load('d')
        expect(final.startsWithSnapshot).toBe(true)
        expect(Y.encodeStateVectorFromUpdate(Y.mergeUpdates(final.updates))).toEqual(Y.encodeStateVectorFromUpdate(Y.mergeUpdates(all)))
        expect(docText(final.updates)).toBe(docText(all))
        await closeBoth([first, second])
      })

      it('loses and doubles nothing when two clones compact one document at once', async () => {
        const [first, second] = await openBoth()
        const all: Uint8Array[] = []
        let client = 1
        for (let round = 0; round < 15; round++) {
          const batch = [textUpdate(`a${round}`, client++), textUpdate(`b${round}`, client++)]
          all.push(...batch)
          await first.append([{ doc: 'd', updates: batch }])
          const [one, two] = await Promise.all([first.load('d'), second.load('d')])
          const late = textUpdate(`late${round}`, client++)
          all.push(late)
          await Promise.all([
            first.replace('d', Y.mergeUpdates(one.updates), one.lastSeq),
            second.replace('d', Y.mergeUpdates(two.updates), two.lastSeq),
            second.append([{ doc: 'd', updates: [late] }])
          ])
          const log = await first.load('d')
          // One snapshot, first; then only updates as they arrived, none twice.
          expect(log.startsWithSnapshot).toBe(true)
          const rest = log.updates.slice(1)
          expect(new Set(rest.map((u) => Buffer.from(u).toString('hex'))).size).toBe(rest.length)
          for (const u of rest) expect(all.some((a) => Buffer.from(a).equals(u))).toBe(true)
        }
        const final = await second.load('d')
        expect(docText(final.updates)).toBe(docText(all))
        await closeBoth([first, second])
      })

      it('commits a batch across documents at once: a reader never sees one document of a batch without the other', async () => {
        const [first, second] = await openBoth()
        const rounds = 40
        let writing = true
        const violations: string[] = []
        const reader = (async () => {
          while (writing) {
            // b after a: whatever batch a shows committed, b must show too.
            const a = (await second.load('a')).updates.length
            const b = (await second.load('b')).updates.length
            if (b < a) violations.push(`a had ${a} updates, b then had ${b}`)
          }
        })()
        for (let i = 0; i < rounds; i++) {
          await first.append([
            { doc: 'a', updates: [textUpdate(`a${i}`, i + 1)] },
            { doc: 'b', updates: [textUpdate(`b${i}`, i + 1)] }
          ])
        }
        writing = false
        await reader
        expect(violations).toEqual([])
        expect((await second.load('b')).updates).toHaveLength(rounds)
        await closeBoth([first, second])
      })
    })

    describe('version histories', () => {
      const version = (overrides: Partial<NewVersion> = {}): NewVersion => ({
        createdAt: 1_700_000_000_000,
        name: null,
        kind: 'auto',
        restoredFrom: null,
        authors: ['ada'],
        summary: { inserted: 3, deleted: 1 },
        base: null,
        update: textUpdate('v'),
        ...overrides
      })
      const versionsOf = (storage: Storage): VersionStore => {
        if (!storage.versions) throw new Error('this storage keeps no versions')
        return storage.versions
      }

      it('keeps versions with their metadata, oldest first, each update readable by id', async () => {
        const storage = await options.create()
        const versions = versionsOf(storage)
        await storage.append([{ doc: 'h', updates: [textUpdate('x')] }])
        const first = await versions.add('h', version({ update: textUpdate('checkpoint') }))
        const second = await versions.add('h', version({ name: 'Draft', kind: 'named', authors: ['ada', 'bob'], base: first.id, update: textUpdate('diff', 2), createdAt: 1_700_000_001_000 }))
        const third = await versions.add('h', version({ kind: 'restore', name: 'Restored from Draft', restoredFrom: second.id, base: second.id, summary: { inserted: 0, deleted: 4 } }))
        expect(second.id).toBeGreaterThan(first.id)
        expect(third.id).toBeGreaterThan(second.id)
        expect(second).toEqual({
          id: second.id,
          createdAt: 1_700_000_001_000,
          name: 'Draft',
          kind: 'named',
          restoredFrom: null,
          authors: ['ada', 'bob'],
          summary: { inserted: 3, deleted: 1 },
          base: first.id,
          bytes: textUpdate('diff', 2).byteLength
        })
        expect(await versions.list('h')).toEqual([first, second, third])
        expect(await versions.read('h', [third.id, first.id, 999_999])).toEqual([textUpdate('v'), textUpdate('checkpoint'), null])
        expect(await versions.list('unknown')).toEqual([])
        await storage.close()
      })

      it('keeps the versions of documents whose names are prefixes of each other apart', async () => {
        const storage = await options.create()
        const versions = versionsOf(storage)
        await storage.append([{ doc: 'a', updates: [textUpdate('a')] }, { doc: 'ab', updates: [textUpdate('ab')] }])
        const a = await versions.add('a', version({ update: textUpdate('in a') }))
        await versions.add('ab', version({ update: textUpdate('in ab') }))
        expect((await versions.list('a')).map((v) => v.id)).toEqual([a.id])
        expect(await versions.read('a', [a.id])).toEqual([textUpdate('in a')])
        expect(await versions.list('ab')).toHaveLength(1)
        await storage.close()
      })

      it('keeps versions through a compaction of the log', async () => {
        const storage = await options.create()
        const versions = versionsOf(storage)
        await storage.append([{ doc: 'c', updates: [textUpdate('one'), textUpdate('two', 2)] }])
        const kept = await versions.add('c', version())
        await storage.replace('c', textUpdate('snapshot', 9), (await storage.load('c')).lastSeq)
        expect(await versions.list('c')).toEqual([kept])
        expect(await versions.read('c', [kept.id])).toEqual([textUpdate('v')])
        await storage.close()
      })

      it('deletes a document\'s versions with it, and a document written again starts a new history', async () => {
        const storage = await options.create()
        const versions = versionsOf(storage)
        await storage.append([{ doc: 'gone', updates: [textUpdate('x')] }, { doc: 'stays', updates: [textUpdate('y')] }])
        const old = await versions.add('gone', version())
        const other = await versions.add('stays', version())
        await storage.delete('gone')
        expect(await versions.list('gone')).toEqual([])
        expect(await versions.read('gone', [old.id])).toEqual([null])
        expect(await versions.list('stays')).toEqual([other])
        await storage.append([{ doc: 'gone', updates: [textUpdate('again')] }])
        expect(await versions.list('gone')).toEqual([])
        await storage.close()
      })

      it('thins: removes versions and rebases their successors in one write', async () => {
        const storage = await options.create()
        const versions = versionsOf(storage)
        await storage.append([{ doc: 't', updates: [textUpdate('x')] }])
        const v1 = await versions.add('t', version({ update: textUpdate('full') }))
        const v2 = await versions.add('t', version({ base: v1.id, update: textUpdate('d2', 2) }))
        const v3 = await versions.add('t', version({ base: v2.id, update: textUpdate('d3', 3) }))
        await versions.thin('t', [v2.id], [{ id: v3.id, base: v1.id, update: textUpdate('d2+d3', 4) }])
        expect(await versions.list('t')).toEqual([v1, { ...v3, base: v1.id, bytes: textUpdate('d2+d3', 4).byteLength }])
        expect(await versions.read('t', [v2.id, v3.id])).toEqual([null, textUpdate('d2+d3', 4)])
        await storage.close()
      })

      if (options.reopen) {
        const reopen = options.reopen
        it('keeps versions across a reopen, and numbers new ones after them', async () => {
          let storage = await options.create()
          await storage.append([{ doc: 'r', updates: [textUpdate('x')] }])
          const before = await versionsOf(storage).add('r', version())
          storage = await reopen(storage)
          expect(await versionsOf(storage).list('r')).toEqual([before])
          const after = await versionsOf(storage).add('r', version())
          expect(after.id).toBeGreaterThan(before.id)
          await storage.close()
        })
      }
    })

    if (options.reopen) {
      const reopen = options.reopen
      it('keeps everything across a reopen, and later appends land after a compaction point', async () => {
        let storage = await options.create()
        await storage.append([{ doc: 'd', updates: [textUpdate('one'), textUpdate('two', 2)] }])
        const { lastSeq } = await storage.load('d')
        await storage.replace('d', textUpdate('snap', 9), lastSeq)
        storage = await reopen(storage)
        await storage.append([{ doc: 'd', updates: [textUpdate('after', 3)] }])
        const log = await storage.load('d')
        expect(log.updates).toEqual([textUpdate('snap', 9), textUpdate('after', 3)])
        expect(log.startsWithSnapshot).toBe(true)
        expect(await storage.list()).toEqual(['d'])
        await storage.close()
      })
    }
  })
}
