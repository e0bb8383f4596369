import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createLevelStorage, createServer } from '@quire/server'
import { createPostgresStorage } from '@quire/postgres'
import { QUIRE_BIN, createTestSchema, docFromUpdates } from '@quire/testkit'

const run = promisify(execFile)
const quire = (...args: string[]) => run(process.execPath, [QUIRE_BIN, ...args])

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

async function dataDirWith(docs: Record<string, (doc: Y.Doc) => void>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'quire-cli-'))
  dirs.push(dir)
  const storage = await createLevelStorage(dir)
  for (const [name, edit] of Object.entries(docs)) {
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    edit(doc)
    await storage.append([{ doc: name, updates }])
  }
  await storage.close()
  return dir
}

async function readDoc(dir: string, name: string): Promise<{ doc: Y.Doc; logLength: number }> {
  const storage = await createLevelStorage(dir)
  const { updates } = await storage.load(name)
  await storage.close()
  return { doc: docFromUpdates(updates), logLength: updates.length }
}

describe('quire inspect / export / import / compact', () => {
  it('exports a document, imports it under another name, compacts every log, and lists them', async () => {
    const dir = await dataDirWith({
      notes: (doc) => {
        for (let i = 0; i < 30; i++) doc.getText('t').insert(0, `line ${i}\n`)
        doc.getText('t').delete(0, 20)
        doc.getMap('meta').set('title', 'Notes')
      }
    })
    const file = join(dir, '..', `${dir.split('/').pop()}-notes.bin`)
    dirs.push(file)
    const exported = await quire('export', '--data', dir, 'notes', '--out', file)
    expect(exported.stderr).toMatch(/wrote .* to /)

    await quire('import', '--data', dir, 'notes copy', file)
    const original = await readDoc(dir, 'notes')
    const copy = await readDoc(dir, 'notes copy')
    expect(copy.doc.getText('t').toString()).toBe(original.doc.getText('t').toString())
    expect(copy.doc.getMap('meta').toJSON()).toEqual({ title: 'Notes' })

    const compacted = await quire('compact', '--data', dir, '--all')
    expect(compacted.stderr).toContain('[2/2]')
    const after = await readDoc(dir, 'notes')
    expect(after.logLength).toBe(1)
    expect(after.doc.getText('t').toString()).toBe(original.doc.getText('t').toString())

    const listed = await quire('inspect', '--data', dir)
    expect(listed.stdout).toContain('2 documents')
    expect(listed.stdout).toContain('"notes copy"\t1 updates')
    const one = await quire('inspect', '--data', dir, 'notes')
    expect(one.stdout).toMatch(/root types: +"t", "meta"/)
  })

  it('refuses a file that is not a Yjs update and leaves the document as it was', async () => {
    const dir = await dataDirWith({ doc: (doc) => doc.getText('t').insert(0, 'kept') })
    const junk = join(dir, 'junk.bin')
    await writeFile(junk, Buffer.from('definitely not yjs'))
    await expect(quire('import', '--data', dir, 'doc', junk)).rejects.toMatchObject({ stderr: expect.stringMatching(/nothing was imported/) })
    const { doc, logLength } = await readDoc(dir, 'doc')
    expect(logLength).toBe(1)
    expect(doc.getText('t').toString()).toBe('kept')
  })

  it('says a running server holds the data directory instead of corrupting it', async () => {
    const dir = await dataDirWith({ doc: (doc) => doc.getText('t').insert(0, 'x') })
    const server = createServer({ dataDir: dir })
    await server.listen(0, '127.0.0.1')
    try {
      await expect(quire('compact', '--data', dir, '--all')).rejects.toMatchObject({
        stderr: expect.stringMatching(/another quire server running/)
      })
    } finally {
      await server.close()
    }
  })
})

describe('document commands on PostgreSQL', () => {
  it('import, inspect, compact and export work on --postgres as on --data', async () => {
    const schema = await createTestSchema('cli')
    try {
      const doc = new Y.Doc()
      for (let i = 0; i < 50; i++) doc.getText('t').insert(0, `${i} `)
      const dir = await mkdtemp(join(tmpdir(), 'quire-cli-'))
      dirs.push(dir)
      const file = join(dir, 'in.bin')
      await writeFile(file, Y.encodeStateAsUpdate(doc))
      await quire('import', '--postgres', schema.url, 'pg doc', file)
      await quire('import', '--postgres', schema.url, 'pg doc', file)
      expect((await quire('inspect', '--postgres', schema.url)).stdout).toContain('pg doc')
      await quire('compact', '--postgres', schema.url, '--all')
      const storage = await createPostgresStorage({ connectionString: schema.url })
      const log = await storage.load('pg doc')
      await storage.close()
      expect(log.startsWithSnapshot).toBe(true)
      expect(log.updates).toHaveLength(1)
      const out = join(dir, 'out.bin')
      await quire('export', '--postgres', schema.url, 'pg doc', '--out', out)
      expect(docFromUpdates([await readFile(out)]).getText('t').toString()).toBe(doc.getText('t').toString())
    } finally {
      await schema.drop()
    }
  })
})
