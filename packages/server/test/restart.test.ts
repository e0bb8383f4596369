import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, it } from 'vitest'
import * as Y from 'yjs'
import { assertConverged, findDivergence, startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * A restart keeps every document: many rooms, with logs long enough to be compacted,
 * read back by fresh clients after one and after two restarts, and clients that stay
 * connected across a restart on the same port catch up with it.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(joinPath(tmpdir(), 'quire-restart-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function converge(docs: Y.Doc[], label: string): Promise<void> {
  await waitUntil(() => findDivergence(docs) === null, { describe: () => `${label}: ${findDivergence(docs)}` })
  assertConverged(docs)
}

function edit(doc: Y.Doc, room: number, step: number): void {
  const text = doc.getText('t')
  text.insert(text.length, `${room}.${step} `)
  if (step % 7 === 3) text.delete(0, 2)
  doc.getMap('m').set(`k${step % 5}`, step)
  if (step % 11 === 0) doc.getArray<string>('a').insert(0, [`item ${step}`])
}

describe('restart', () => {
  it('keeps every document, compacted or not, across two restarts', async () => {
    const dataDir = await tempDir()
    // Compact after 25 stored updates, so most rooms are compacted before the restart.
    const options = { dataDir, compactAfter: 25 }
    let server: QuireServerFixture = await startQuireServer(options)
    cleanups.push(() => server.close())
    const rooms = Array.from({ length: 12 }, (_, i) => `room ${i}`)
    const reference = rooms.map(() => new Y.Doc())

    const writeRound = async (from: number, to: number): Promise<void> => {
      const writers = rooms.map((room, i) => {
        const writer = createStockClient(server.url, room, { doc: reference[i] as Y.Doc })
        return writer
      })
      await Promise.all(writers.map((w) => w.synced()))
      writers.forEach((w, i) => {
        // Each edit is its own update; room i gets a log of (i + 1) * (to - from) / 4 updates or so.
        for (let step = from; step < from + Math.ceil(((i + 1) * (to - from)) / 4); step++) edit(w.doc, i, step)
      })
      const readers = rooms.map((room) => createStockClient(server.url, room))
      await Promise.all(readers.map((r) => r.synced()))
      for (const [i, reader] of readers.entries()) await converge([reference[i] as Y.Doc, reader.doc], rooms[i] as string)
      for (const c of [...writers, ...readers]) c.provider.destroy()
    }

    const checkAll = async (label: string): Promise<void> => {
      const fresh: StockClient[] = rooms.map((room) => createStockClient(server.url, room))
      cleanups.push(() => {
        for (const f of fresh) f.destroy()
      })
      await Promise.all(fresh.map((f) => f.synced()))
      for (const [i, f] of fresh.entries()) await converge([reference[i] as Y.Doc, f.doc], `${label}, ${rooms[i]}`)
      for (const f of fresh) f.provider.destroy()
    }

    await writeRound(0, 40)
    await server.close()
    server = await startQuireServer(options)
    await checkAll('after the first restart')
    await writeRound(40, 80)
    await server.close()
    server = await startQuireServer(options)
    await checkAll('after the second restart')
  })

  it('clients connected across a restart on the same port catch up, with edits made while it was down', async () => {
    const dataDir = await tempDir()
    let server: QuireServerFixture = await startQuireServer({ dataDir })
    cleanups.push(() => server.close())
    const port = server.port
    const a = createStockClient(server.url, 'across', { maxBackoffTime: 100 })
    const b = createStockClient(server.url, 'across', { maxBackoffTime: 100 })
    cleanups.push(() => a.destroy())
    cleanups.push(() => b.destroy())
    await Promise.all([a.synced(), b.synced()])
    a.doc.getText('t').insert(0, 'before the restart. ')
    await converge([a.doc, b.doc], 'before')

    await server.close()
    await waitUntil(() => !a.provider.wsconnected && !b.provider.wsconnected)
    a.doc.getText('t').insert(0, 'a while down. ')
    b.doc.getMap('m').set('b while down', true)
    server = await startQuireServer({ dataDir, port })
    await Promise.all([a.synced(30_000), b.synced(30_000)])
    await converge([a.doc, b.doc], 'after')
    const fresh = createStockClient(server.url, 'across')
    cleanups.push(() => fresh.destroy())
    await fresh.synced()
    await converge([a.doc, b.doc, fresh.doc], 'fresh')
  })
})
