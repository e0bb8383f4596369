import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Storage } from '@quire/server'

export interface StorageContractOptions {
  /** A fresh, empty storage. */
  readonly create: () => Promise<Storage>
  /** Closes and reopens the same store, when the backend is durable. */
  readonly reopen?: (storage: Storage) => Promise<Storage>
}

function textUpdate(text: string, clientID = 1): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
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
