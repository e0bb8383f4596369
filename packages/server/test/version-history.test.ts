import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createLevelStorage, createServer, createTokenAuthenticator, signRoomToken, type ServerOptions, type Storage } from '@quire/server'
import { createStockClient, type StockClient } from './stock-client.js'
import { pollUntil, waitUntil } from './wait-until.js'

/**
 * Version history end to end (LevelDB in a temp dir, port 0, stock y-websocket clients):
 * automatic versions after an idle pause, during a long session and when a room leaves
 * memory; named versions; listing and showing them over the API; a restore on a live
 * room with two connected clients and an offline one whose later edits must survive it;
 * a deleted document's versions go with it.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Live {
  readonly ws: string
  readonly http: string
  readonly storage: Storage
}

async function startLive(options: ServerOptions = {}): Promise<Live> {
  const dir = await mkdtemp(join(tmpdir(), 'quire-history-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const storage = await createLevelStorage(dir)
  cleanups.push(() => storage.close())
  const server = createServer({ storage, historyIdleMs: 60_000, historyMaxIntervalMs: 600_000, ...options })
  const { url } = await server.listen(0, '127.0.0.1')
  cleanups.push(() => server.close())
  return { ws: url.replace('http', 'ws'), http: url, storage }
}

function client(live: Live, room: string, name?: string, token?: string): StockClient {
  const c = createStockClient(live.ws, room, token === undefined ? {} : { connect: false })
  if (token !== undefined) {
    c.provider.params['token'] = token
    c.provider.connect()
  }
  if (name !== undefined) c.provider.awareness.setLocalStateField('user', { name })
  cleanups.push(() => c.destroy())
  return c
}

interface VersionJson {
  readonly id: number
  readonly createdAt: string
  readonly name: string | null
  readonly kind: 'auto' | 'named' | 'restore'
  readonly restoredFrom: number | null
  readonly authors: string[]
  readonly summary: { inserted: number; deleted: number }
}

const versionsUrl = (live: Live, room: string, sub = ''): string => `${live.http}/api/v1/documents/${encodeURIComponent(room)}/versions${sub}`

async function listVersions(live: Live, room: string): Promise<VersionJson[]> {
  const response = await fetch(versionsUrl(live, room))
  expect(response.status).toBe(200)
  return ((await response.json()) as { versions: VersionJson[] }).versions
}

async function nameVersion(live: Live, room: string, name: string): Promise<VersionJson> {
  const response = await fetch(versionsUrl(live, room), { method: 'POST', body: JSON.stringify({ name }) })
  expect(response.status).toBe(201)
  return (await response.json()) as VersionJson
}

async function versionDoc(live: Live, room: string, id: number): Promise<Y.Doc> {
  const response = await fetch(versionsUrl(live, room, `/${id}?format=update`))
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('application/octet-stream')
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(await response.arrayBuffer()))
  return doc
}

/** A paragraph as Tiptap/y-prosemirror keeps it: an element holding one XML text. */
function paragraph(text: string): Y.XmlElement {
  const p = new Y.XmlElement('paragraph')
  const t = new Y.XmlText()
  t.insert(0, text)
  p.insert(0, [t])
  return p
}

const textOf = (p: Y.XmlElement): Y.XmlText => p.get(0) as Y.XmlText
const xml = (doc: Y.Doc): string => doc.getXmlFragment('default').toString()

describe('version history', () => {
  it('records an automatic version once editing pauses, with who wrote and how much', async () => {
    const live = await startLive({ historyIdleMs: 150 })
    const ada = client(live, 'idle', 'Ada')
    const bob = client(live, 'idle', 'Bob')
    await Promise.all([ada.synced(), bob.synced()])
    ada.doc.getText('t').insert(0, 'hello world')
    const [first] = await pollUntil(async () => {
      const versions = await listVersions(live, 'idle')
      return versions.length === 1 ? versions : undefined
    }, { describe: () => 'no automatic version after the pause' })
    expect(first).toMatchObject({ kind: 'auto', name: null, restoredFrom: null, authors: ['Ada'], summary: { inserted: 11, deleted: 0 } })
    await waitUntil(() => bob.doc.getText('t').toString() === 'hello world')
    bob.doc.getText('t').delete(0, 6)
    bob.doc.getText('t').insert(0, 'goodbye ')
    const second = await pollUntil(async () => {
      const versions = await listVersions(live, 'idle')
      return versions.length === 2 ? versions[0] : undefined
    }, { describe: () => 'no second automatic version' })
    expect(second).toMatchObject({ kind: 'auto', authors: ['Bob'], summary: { inserted: 8, deleted: 6 } })
    expect((await versionDoc(live, 'idle', (first as VersionJson).id)).getText('t').toString()).toBe('hello world')
    expect((await versionDoc(live, 'idle', (second as VersionJson).id)).getText('t').toString()).toBe('goodbye world')
  })

  it('records versions during a long session that never pauses, at the max interval', async () => {
    const live = await startLive({ historyIdleMs: 60_000, historyMaxIntervalMs: 250 })
    const ada = client(live, 'long', 'Ada')
    await ada.synced()
    const started = Date.now()
    let typed = 0
    // Typing every 40 ms: the idle timer never fires.
    const typing = setInterval(() => ada.doc.getText('t').insert(typed++, 'x'), 40)
    cleanups.push(() => clearInterval(typing))
    await pollUntil(async () => ((await listVersions(live, 'long')).length >= 2 ? true : undefined), { describe: () => 'fewer than 2 versions while typing' })
    clearInterval(typing)
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('records the version of a room that left memory, from storage, with the authors it had', async () => {
    const live = await startLive({ historyIdleMs: 400 })
    const ada = client(live, 'evicted', 'Ada')
    await ada.synced()
    ada.doc.getText('t').insert(0, 'written then gone')
    await waitUntil(async () => (await fetch(`${live.http}/api/v1/documents/evicted`)).status === 200)
    ada.destroy()
    const [version] = await pollUntil(async () => {
      const versions = await listVersions(live, 'evicted')
      return versions.length === 1 ? versions : undefined
    }, { describe: () => 'no version after the room left memory' })
    expect(version).toMatchObject({ kind: 'auto', authors: ['Ada'], summary: { inserted: 17, deleted: 0 } })
  })

  it('records one version for many API writes (each opens and closes the room), as "api"', async () => {
    const live = await startLive({ historyIdleMs: 300 })
    const doc = new Y.Doc()
    for (const word of ['one ', 'two ', 'three ']) {
      const before = Y.encodeStateVector(doc)
      doc.getText('t').insert(doc.getText('t').length, word)
      expect((await fetch(`${live.http}/api/v1/documents/api-writes/updates`, { method: 'POST', body: Y.encodeStateAsUpdate(doc, before) })).status).toBe(200)
    }
    const versions = await pollUntil(async () => {
      const listed = await listVersions(live, 'api-writes')
      return listed.length > 0 ? listed : undefined
    }, { describe: () => 'no version' })
    expect(versions).toHaveLength(1)
    expect(versions[0]).toMatchObject({ authors: ['api'], summary: { inserted: 14, deleted: 0 } })
  })

  it('names versions on request, changed or not, lists them newest first and refuses bad requests', async () => {
    const live = await startLive()
    const ada = client(live, 'named', 'Ada')
    await ada.synced()
    ada.doc.getXmlFragment('default').insert(0, [paragraph('draft one')])
    await waitUntil(async () => (await fetch(`${live.http}/api/v1/documents/named`)).status === 200)
    const first = await nameVersion(live, 'named', '  First draft ')
    const again = await nameVersion(live, 'named', 'Same again')
    expect(first).toMatchObject({ kind: 'named', name: 'First draft', summary: { inserted: 9, deleted: 0 } })
    expect(again).toMatchObject({ kind: 'named', name: 'Same again', summary: { inserted: 0, deleted: 0 } })
    expect(new Date(first.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000)
    expect((await listVersions(live, 'named')).map((v) => v.name)).toEqual(['Same again', 'First draft'])
    expect(xml(await versionDoc(live, 'named', first.id))).toBe('<paragraph>draft one</paragraph>')

    const refusals: Array<[string, RequestInit, number, string]> = [
      [versionsUrl(live, 'named'), { method: 'POST', body: 'not json' }, 400, 'invalid-body'],
      [versionsUrl(live, 'named'), { method: 'POST', body: '{"name": ""}' }, 400, 'invalid-body'],
      [versionsUrl(live, 'named'), { method: 'POST', body: '{"name": 7}' }, 400, 'invalid-body'],
      [versionsUrl(live, 'named', '/99999'), {}, 404, 'version-not-found'],
      [versionsUrl(live, 'named', '/abc'), {}, 400, 'invalid-query'],
      [versionsUrl(live, 'named', `/${first.id}?format=pdf`), {}, 400, 'invalid-query'],
      [versionsUrl(live, 'named', '/99999/restore'), { method: 'POST' }, 404, 'version-not-found'],
      [versionsUrl(live, 'nobody-here'), {}, 404, 'document-not-found'],
      [versionsUrl(live, 'named', `/${first.id}`), { method: 'DELETE' }, 405, 'method-not-allowed']
    ]
    for (const [url, init, status, code] of refusals) {
      const response = await fetch(url, init)
      expect({ url, status: response.status }).toEqual({ url, status })
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code)
    }
    // Nothing was lost or added by the refusals.
    expect(await listVersions(live, 'named')).toHaveLength(2)
  })

  it('renders a version as HTML, Markdown and text with the server\'s renderer', async () => {
    const live = await startLive()
    const ada = client(live, 'render', 'Ada')
    await ada.synced()
    ada.doc.getXmlFragment('default').insert(0, [paragraph('to <render>')])
    await waitUntil(async () => (await fetch(`${live.http}/api/v1/documents/render`)).status === 200)
    const version = await nameVersion(live, 'render', 'v')
    ada.doc.getXmlFragment('default').insert(1, [paragraph('added after the version')])
    const html = await fetch(versionsUrl(live, 'render', `/${version.id}?format=html`))
    expect(html.status).toBe(200)
    expect(html.headers.get('content-type')).toContain('text/html')
    expect(await html.text()).toBe('<p>to &lt;render&gt;</p>')
    const markdown = await fetch(versionsUrl(live, 'render', `/${version.id}?format=markdown`))
    expect((await markdown.text()).trim()).toBe('to \\<render\\>')
    const text = await fetch(versionsUrl(live, 'render', `/${version.id}?format=text`))
    expect((await text.text()).trim()).toBe('to <render>')
  })

  it('restores a version on a live room: two connected clients and one offline client end with its content and the offline edits', async () => {
    const live = await startLive()
    const ada = client(live, 'restore', 'Ada')
    const bob = client(live, 'restore', 'Bob')
    const cleo = client(live, 'restore', 'Cleo')
    await Promise.all([ada.synced(), bob.synced(), cleo.synced()])
    const fragment = ada.doc.getXmlFragment('default')
    fragment.insert(0, [paragraph('Intro stays as it was.'), paragraph('The middle paragraph.'), paragraph('Closing words here.')])
    const original = xml(ada.doc)
    await waitUntil(() => xml(bob.doc) === original && xml(cleo.doc) === original, { describe: () => `bob ${xml(bob.doc)} cleo ${xml(cleo.doc)}` })
    const named = await nameVersion(live, 'restore', 'Before the rewrite')

    // Cleo goes offline and keeps editing inside paragraphs the others change or keep.
    cleo.provider.disconnect()
    const cleoFragment = cleo.doc.getXmlFragment('default')
    textOf(cleoFragment.get(2) as Y.XmlElement).insert(0, 'OFFLINE ')
    textOf(cleoFragment.get(1) as Y.XmlElement).insert(4, 'offline ')

    // Ada and Bob rewrite: the intro goes, the middle is edited, a paragraph is added.
    fragment.delete(0, 1)
    textOf(fragment.get(0) as Y.XmlElement).insert(0, 'Rewritten: ')
    await waitUntil(() => xml(bob.doc) === xml(ada.doc))
    bob.doc.getXmlFragment('default').insert(2, [paragraph('Added later by Bob.')])
    await waitUntil(() => xml(ada.doc) === xml(bob.doc) && xml(ada.doc).includes('Added later'))

    const response = await fetch(versionsUrl(live, 'restore', `/${named.id}/restore`), { method: 'POST' })
    expect(response.status).toBe(200)
    const restored = (await response.json()) as VersionJson
    expect(restored).toMatchObject({ kind: 'restore', name: 'Restored from Before the rewrite', restoredFrom: named.id })
    await waitUntil(() => xml(ada.doc) === original && xml(bob.doc) === original, { describe: () => `ada ${xml(ada.doc)}\nbob ${xml(bob.doc)}` })

    // Cleo comes back: her offline edits merge into the restored paragraphs, none is lost.
    cleo.provider.connect()
    const expected =
      '<paragraph>Intro stays as it was.</paragraph><paragraph>The offline middle paragraph.</paragraph><paragraph>OFFLINE Closing words here.</paragraph>'
    await waitUntil(() => [ada, bob, cleo].every((c) => xml(c.doc) === expected), {
      describe: () => [ada, bob, cleo].map((c) => xml(c.doc)).join('\n')
    })
    const versions = await listVersions(live, 'restore')
    expect(versions[0]).toEqual(restored)
    expect(xml(await versionDoc(live, 'restore', restored.id))).toBe(original)
  })

  it('restoring the version before a restore undoes it', async () => {
    const live = await startLive()
    const ada = client(live, 'undo', 'Ada')
    await ada.synced()
    ada.doc.getText('t').insert(0, 'one')
    await waitUntil(async () => (await fetch(`${live.http}/api/v1/documents/undo`)).status === 200)
    const one = await nameVersion(live, 'undo', 'one')
    ada.doc.getText('t').insert(3, ' two')
    await waitUntil(async () => (await versionTextNow(live, 'undo')) === 'one two')
    const two = await nameVersion(live, 'undo', 'two')
    expect((await fetch(versionsUrl(live, 'undo', `/${one.id}/restore`), { method: 'POST' })).status).toBe(200)
    await waitUntil(() => ada.doc.getText('t').toString() === 'one')
    expect((await fetch(versionsUrl(live, 'undo', `/${two.id}/restore`), { method: 'POST' })).status).toBe(200)
    await waitUntil(() => ada.doc.getText('t').toString() === 'one two')
    expect((await listVersions(live, 'undo')).map((v) => v.kind)).toEqual(['restore', 'restore', 'named', 'named'])
  })

  it('counts token subjects as authors when auth is configured', async () => {
    const secret = 'a'.repeat(48)
    const live = await startLive({ authenticate: createTokenAuthenticator({ secret }), historyIdleMs: 100 })
    const token = await signRoomToken({ room: 'authed', access: 'write', user: 'ada@example.com' }, { secret, ttlSeconds: 600 })
    const ada = client(live, 'authed', 'Display Name Not Used', token)
    await ada.synced()
    ada.doc.getText('t').insert(0, 'signed')
    const versions = await pollUntil(async () => {
      const response = await fetch(versionsUrl(live, 'authed'), { headers: { authorization: `Bearer ${token}` } })
      const body = (await response.json()) as { versions: VersionJson[] }
      return body.versions.length === 1 ? body.versions : undefined
    }, { describe: () => 'no version' })
    expect(versions[0]?.authors).toEqual(['ada@example.com'])
    expect((await fetch(versionsUrl(live, 'authed'))).status).toBe(401)
  })

  it('deletes a document\'s versions with it', async () => {
    const live = await startLive({ tombstoneDays: 0 })
    const ada = client(live, 'doomed', 'Ada')
    await ada.synced()
    ada.doc.getText('t').insert(0, 'soon gone')
    await waitUntil(async () => (await fetch(`${live.http}/api/v1/documents/doomed`)).status === 200)
    await nameVersion(live, 'doomed', 'kept until the delete')
    ada.destroy()
    expect((await fetch(`${live.http}/api/v1/documents/doomed`, { method: 'DELETE' })).status).toBe(200)
    expect((await fetch(versionsUrl(live, 'doomed'))).status).toBe(404)
    expect((await fetch(`${live.http}/api/v1/documents/doomed`, { method: 'PUT' })).status).toBe(201)
    expect(await listVersions(live, 'doomed')).toEqual([])
    expect(await live.storage.versions?.list('doomed')).toEqual([])
  })
})

async function versionTextNow(live: Live, room: string): Promise<string> {
  const response = await fetch(`${live.http}/api/v1/documents/${room}`)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(await response.arrayBuffer()))
  return doc.getText('t').toString()
}
