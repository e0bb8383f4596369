import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CLOSE_DOCUMENT_DELETED } from '@quire/protocol'
import {
  createLevelStorage,
  createMemoryStorage,
  createServer,
  createTokenAuthenticator,
  signRoomToken,
  type DocumentEvents,
  type ServerOptions,
  type Storage
} from '@quire/server'
import { createPrng, findDivergence, readSeeds, runWithSeed, type Prng } from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * The document HTTP API against a live server (port 0, LevelDB in a temp dir) with stock
 * y-websocket clients in the same rooms: what the API reads is what clients wrote, what
 * it writes reaches them at once and is answered once durable, a delete closes them with
 * 4404 and keeps a stale offline copy out, access follows API keys and room tokens, and
 * bad bodies are refused without harm to the room.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Live {
  readonly url: string
  readonly http: string
  readonly storage: Storage
  readonly events: Array<[string, string]>
  readonly stats: () => { readonly rooms: number; readonly roomsLoaded: number }
}

async function startLive(options: ServerOptions = {}): Promise<Live> {
  const dir = await mkdtemp(join(tmpdir(), 'quire-api-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const storage = options.storage ?? (await createLevelStorage(dir))
  if (options.storage === undefined) cleanups.push(() => storage.close())
  const events: Array<[string, string]> = []
  const documentEvents: DocumentEvents = {
    created: (doc) => events.push(['created', doc]),
    deleted: (doc) => events.push(['deleted', doc])
  }
  const server = createServer({ storage, documentEvents, ...options })
  const { url } = await server.listen(0, '127.0.0.1')
  cleanups.push(() => server.close())
  return { url: url.replace('http', 'ws'), http: url, storage, events, stats: () => server.stats() }
}

function join_(live: Live, room: string, doc?: Y.Doc): StockClient {
  const client = createStockClient(live.url, room, doc ? { doc } : {})
  cleanups.push(() => client.destroy())
  return client
}

const documentUrl = (live: Live, room: string, sub = ''): string => `${live.http}/api/v1/documents/${encodeURIComponent(room)}${sub}`

function textUpdate(text: string, clientID: number): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

async function getDocument(live: Live, room: string, headers: Record<string, string> = {}): Promise<Y.Doc> {
  const response = await fetch(documentUrl(live, room), { headers })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('application/octet-stream')
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(await response.arrayBuffer()))
  return doc
}

async function post(live: Live, room: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(documentUrl(live, room, '/updates'), { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers } })
}

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } }
  return { status: response.status, code: body.error.code, message: body.error.message }
}

/** The close codes the client's sockets were closed with, in order. */
function recordCloses(client: StockClient): number[] {
  const codes: number[] = []
  client.provider.on('connection-close', (event: { code: number } | null) => {
    if (event) codes.push(event.code)
  })
  return codes
}

describe('document API: reads and writes beside stock clients', () => {
  it('serves what clients wrote, as an update, as JSON and as a state vector; a POSTed update reaches them at once and is answered once durable', async () => {
    const live = await startLive()
    // A room with a slash, as the WebSocket names it: %2F in the path.
    const room = 'team/notes 1'
    const a = join_(live, room)
    const b = join_(live, room)
    await Promise.all([a.synced(), b.synced()])
    a.doc.getText('t').insert(0, 'hello from a')
    a.doc.getMap('m').set('k', 1)
    b.doc.getArray('list').insert(0, ['x', 2])
    await waitUntil(() => findDivergence([a.doc, b.doc]) === null)

    await waitUntil(async () => findDivergence([await getDocument(live, room), a.doc]) === null)
    const json = await fetch(`${documentUrl(live, room)}?format=json`)
    expect(json.headers.get('content-type')).toContain('application/json')
    expect(await json.json()).toEqual({ t: 'hello from a', m: { k: 1 }, list: ['x', 2] })
    const stateVector = await fetch(documentUrl(live, room, '/state-vector'))
    expect(Y.decodeStateVector(new Uint8Array(await stateVector.arrayBuffer()))).toEqual(Y.decodeStateVector(Y.encodeStateVector(a.doc)))

    const backend = new Y.Doc()
    backend.clientID = 4242
    Y.applyUpdate(backend, Y.encodeStateAsUpdate(a.doc))
    const before = Y.encodeStateVector(backend)
    backend.getText('t').insert(0, 'backend says: ')
    const response = await post(live, room, Y.encodeStateAsUpdate(backend, before))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ saved: true })
    // Answered once durable: the store holds it now, without waiting.
    const stored = new Y.Doc()
    for (const update of (await live.storage.load(room)).updates) Y.applyUpdate(stored, update)
    expect(stored.getText('t').toString()).toBe('backend says: hello from a')
    await waitUntil(() => a.doc.getText('t').toString() === 'backend says: hello from a' && b.doc.getText('t').toString() === a.doc.getText('t').toString())
    // Created once, by its first durable write (a WebSocket client's).
    expect(live.events).toEqual([['created', room]])
  })

  it('answers 304 for an unchanged ETag and 200 after a change, a deletion alone included', async () => {
    const live = await startLive()
    const client = join_(live, 'tagged')
    await client.synced()
    client.doc.getText('t').insert(0, 'abcdef')
    await waitUntil(async () => (await getDocument(live, 'tagged')).getText('t').toString() === 'abcdef')
    const first = await fetch(documentUrl(live, 'tagged'))
    const etag = first.headers.get('etag')
    expect(etag).toMatch(/^".+"$/)
    const again = await fetch(documentUrl(live, 'tagged'), { headers: { 'if-none-match': etag! } })
    expect(again.status).toBe(304)
    const svTag = (await fetch(documentUrl(live, 'tagged', '/state-vector'))).headers.get('etag')!
    expect((await fetch(documentUrl(live, 'tagged', '/state-vector'), { headers: { 'if-none-match': svTag } })).status).toBe(304)

    // A deletion advances no clock: the state vector stays, the document does not.
    client.doc.getText('t').delete(0, 3)
    await waitUntil(async () => (await fetch(documentUrl(live, 'tagged'), { headers: { 'if-none-match': etag! } })).status === 200)
    expect((await getDocument(live, 'tagged')).getText('t').toString()).toBe('def')
    expect((await fetch(documentUrl(live, 'tagged', '/state-vector'), { headers: { 'if-none-match': svTag } })).status).toBe(304)
    client.doc.getText('t').insert(0, '!')
    await waitUntil(async () => (await fetch(documentUrl(live, 'tagged', '/state-vector'), { headers: { 'if-none-match': svTag } })).status === 200)
  })

  it('keeps a room it opened for a write open a while: a series of writes and reads loads it from storage once, and it leaves memory after', async () => {
    const live = await startLive({ apiRoomLingerMs: 400 })
    await live.storage.append([{ doc: 'series', updates: [textUpdate('stored', 1)] }])
    for (let i = 0; i < 5; i++) expect((await post(live, 'series', textUpdate(`w${i}`, 10 + i))).status).toBe(200)
    expect((await getDocument(live, 'series')).getText('t').toString().length).toBe(6 + 5 * 2)
    expect(live.stats().roomsLoaded).toBe(1)
    expect(live.stats().rooms).toBe(1)
    await waitUntil(() => live.stats().rooms === 0, { timeoutMs: 5000, describe: () => `${live.stats().rooms} rooms open` })
    // Released after its linger, it is loaded again by the next write.
    expect((await post(live, 'series', textUpdate('again', 20))).status).toBe(200)
    expect(live.stats().roomsLoaded).toBe(2)
  })

  it('serves a document that is not open from storage, and 404 for one never written', async () => {
    const live = await startLive()
    await live.storage.append([{ doc: 'cold', updates: [textUpdate('one', 1), textUpdate('two', 2)] }])
    const doc = await getDocument(live, 'cold')
    expect(doc.getText('t').toString().length).toBe(6)
    const missing = await fetch(documentUrl(live, 'never'))
    expect(await errorOf(missing)).toMatchObject({ status: 404, code: 'document-not-found' })
  })

  it('lists documents a page at a time with a prefix, and refuses bad queries and routes with JSON errors', async () => {
    const live = await startLive()
    const names = ['a/1', 'a/2', 'a/3', 'b/1']
    await live.storage.append(names.map((doc, i) => ({ doc, updates: [textUpdate(doc, i + 1)] })))
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const query: string = `prefix=a%2F&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`
      const page = (await (await fetch(`${live.http}/api/v1/documents?${query}`)).json()) as {
        documents: Array<{ name: string; bytes: number; updatedAt: string | null; lastSeq: number }>
        nextCursor: string | null
      }
      expect(page.documents.length).toBeLessThanOrEqual(2)
      for (const d of page.documents) {
        expect(d.bytes).toBe(textUpdate(d.name, names.indexOf(d.name) + 1).byteLength)
        expect(d.lastSeq).toBeGreaterThan(0)
      }
      seen.push(...page.documents.map((d) => d.name))
      cursor = page.nextCursor
    } while (cursor !== null)
    expect(seen).toEqual(['a/1', 'a/2', 'a/3'])

    expect(await errorOf(await fetch(`${live.http}/api/v1/documents?limit=0`))).toMatchObject({ status: 400, code: 'invalid-query' })
    expect(await errorOf(await fetch(`${live.http}/api/v1/documents?limit=5000`))).toMatchObject({ status: 400, code: 'invalid-query' })
    expect(await errorOf(await fetch(`${live.http}/api/v1/documents?cursor=nonsense`))).toMatchObject({ status: 400, code: 'invalid-query' })
    expect(await errorOf(await fetch(`${live.http}/api/v1/nothing`))).toMatchObject({ status: 404, code: 'not-found' })
    expect(await errorOf(await fetch(`${live.http}/api/v1/documents/x?format=pdf`))).toMatchObject({ status: 400, code: 'invalid-query' })
    const wrongMethod = await fetch(`${live.http}/api/v1/documents/x/updates`)
    expect(wrongMethod.headers.get('allow')).toBe('POST')
    expect(await errorOf(wrongMethod)).toMatchObject({ status: 405, code: 'method-not-allowed' })
    expect(await errorOf(await fetch(documentUrl(live, 'x'.repeat(1025))))).toMatchObject({ status: 414, code: 'room-name-too-long' })
  })
})

describe('document API: delete, tombstone and create', () => {
  it('closes clients with 4404, keeps a stale offline copy out, answers 410 to writes, and PUT creates it again', async () => {
    const live = await startLive()
    const room = 'doomed/doc'
    const writer = join_(live, room)
    const closes = recordCloses(writer)
    await writer.synced()
    writer.doc.getText('t').insert(0, 'secret plans')
    await waitUntil(async () => (await live.storage.load(room)).updates.length > 0)

    const deleted = await fetch(documentUrl(live, room), { method: 'DELETE' })
    expect(deleted.status).toBe(200)
    const body = (await deleted.json()) as { deleted: boolean; refusedUntil: string }
    expect(body.deleted).toBe(true)
    expect(Date.parse(body.refusedUntil) - Date.now()).toBeGreaterThan(29 * 24 * 3600 * 1000)
    await waitUntil(() => closes.includes(CLOSE_DOCUMENT_DELETED), { describe: () => `closes: ${closes.join(', ')}` })
    expect(live.events).toEqual([['created', room], ['deleted', room]])
    expect(await live.storage.info(room)).toBeNull()

    // The offline copy still holds the text; a reconnect with it must not bring it back.
    expect(writer.doc.getText('t').toString()).toBe('secret plans')
    const stale = join_(live, room, writer.doc)
    const staleCloses = recordCloses(stale)
    await waitUntil(() => staleCloses.includes(CLOSE_DOCUMENT_DELETED))
    expect((await live.storage.load(room)).updates).toEqual([])
    expect(await errorOf(await fetch(documentUrl(live, room)))).toMatchObject({ status: 410, code: 'document-deleted' })
    expect(await errorOf(await post(live, room, textUpdate('again', 7)))).toMatchObject({ status: 410, code: 'document-deleted' })
    expect(await errorOf(await fetch(documentUrl(live, room), { method: 'DELETE' }))).toMatchObject({ status: 410, code: 'document-deleted' })

    expect((await fetch(documentUrl(live, room), { method: 'PUT' })).status).toBe(201)
    expect((await fetch(documentUrl(live, room), { method: 'PUT' })).status).toBe(200)
    expect(live.events).toEqual([['created', room], ['deleted', room], ['created', room]])
    expect((await getDocument(live, room)).getText('t').toString()).toBe('')
    const fresh = join_(live, room)
    await fresh.synced()
    expect((await post(live, room, textUpdate('new life', 8))).status).toBe(200)
    await waitUntil(() => fresh.doc.getText('t').toString() === 'new life')
    // Its first write after the PUT creates nothing more: the PUT did.
    expect(live.events).toHaveLength(3)
  })

  it('reports the first write of a document as created, over the API or a WebSocket, and 404 for deleting one that never was', async () => {
    const live = await startLive()
    const reader = join_(live, 'only read')
    await reader.synced()
    const writer = join_(live, 'typed')
    await writer.synced()
    writer.doc.getText('t').insert(0, 'hi')
    await waitUntil(() => live.events.length > 0)
    expect(live.events).toEqual([['created', 'typed']])
    live.events.length = 0
    expect(await errorOf(await fetch(documentUrl(live, 'nobody'), { method: 'DELETE' }))).toMatchObject({ status: 404, code: 'document-not-found' })
    expect((await post(live, 'born', textUpdate('first', 1))).status).toBe(200)
    expect((await post(live, 'born', textUpdate('second', 2))).status).toBe(200)
    expect(live.events).toEqual([['created', 'born']])
    expect((await fetch(documentUrl(live, 'born'), { method: 'PUT' })).status).toBe(200)
  })
})

describe('document API: access', () => {
  const secret = 'a-test-secret-that-is-long-enough-for-hs256!!'
  const apiKey = 'api-key-0123456789abcdef'

  it('takes API keys for everything, write tokens for their room, read tokens for GETs only', async () => {
    const live = await startLive({ apiKeys: [apiKey, 'another-key'], authenticate: createTokenAuthenticator({ secret }) })
    const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
    const write = await signRoomToken({ user: 'w', room: 'mine', access: 'write' }, { secret, ttlSeconds: 600 })
    const read = await signRoomToken({ user: 'r', room: 'mine', access: 'read' }, { secret, ttlSeconds: 600 })
    const list = `${live.http}/api/v1/documents`

    expect(await errorOf(await fetch(list))).toMatchObject({ status: 401, code: 'unauthorized' })
    expect(await errorOf(await fetch(list, { headers: bearer('wrong-key') }))).toMatchObject({ status: 403, code: 'forbidden' })
    expect(await errorOf(await fetch(list, { headers: bearer(write) }))).toMatchObject({ status: 403, code: 'forbidden' })
    expect((await fetch(list, { headers: bearer(apiKey) })).status).toBe(200)
    expect((await fetch(list, { headers: bearer('another-key') })).status).toBe(200)

    expect(await errorOf(await post(live, 'mine', textUpdate('x', 1)))).toMatchObject({ status: 401 })
    expect(await errorOf(await post(live, 'mine', textUpdate('x', 1), bearer('wrong-key')))).toMatchObject({ status: 401 })
    expect(await errorOf(await post(live, 'mine', textUpdate('x', 1), bearer(read)))).toMatchObject({ status: 403, code: 'forbidden' })
    expect(await errorOf(await post(live, 'theirs', textUpdate('x', 1), bearer(write)))).toMatchObject({ status: 403, code: 'forbidden' })
    expect((await post(live, 'mine', textUpdate('by token', 1), bearer(write))).status).toBe(200)
    expect((await post(live, 'mine', textUpdate('by key', 2), bearer(apiKey))).status).toBe(200)

    expect((await fetch(documentUrl(live, 'mine'), { headers: bearer(read) })).status).toBe(200)
    expect((await fetch(documentUrl(live, 'mine', '/state-vector'), { headers: bearer(read) })).status).toBe(200)
    expect(await errorOf(await fetch(documentUrl(live, 'mine'), { method: 'DELETE', headers: bearer(read) }))).toMatchObject({ status: 403 })
    expect(await errorOf(await fetch(documentUrl(live, 'mine'), { method: 'PUT', headers: bearer(read) }))).toMatchObject({ status: 403 })
    expect(await errorOf(await fetch(documentUrl(live, 'mine')))).toMatchObject({ status: 401 })
    expect((await fetch(documentUrl(live, 'mine'), { method: 'DELETE', headers: bearer(write) })).status).toBe(200)
  })

  it('with API keys and no token hook, refuses everything without a key', async () => {
    const live = await startLive({ apiKeys: [apiKey] })
    expect(await errorOf(await fetch(documentUrl(live, 'x')))).toMatchObject({ status: 401, code: 'unauthorized' })
    expect((await post(live, 'x', textUpdate('k', 1), { authorization: `Bearer ${apiKey}` })).status).toBe(200)
  })

  it('without keys or tokens is as open as the WebSocket', async () => {
    const live = await startLive()
    expect((await fetch(`${live.http}/api/v1/documents`)).status).toBe(200)
    expect((await post(live, 'open', textUpdate('anyone', 1))).status).toBe(200)
  })
})

describe('document API: bad bodies', () => {
  const TEST_NAME = 'document API: bad bodies'

  /** A body that is rarely a valid update: random bytes, or a valid update truncated, extended or with bytes flipped. */
  function badBody(prng: Prng, valid: Uint8Array): Uint8Array {
    switch (prng.int(0, 3)) {
      case 0:
        return Uint8Array.from({ length: prng.int(1, 64) }, () => prng.int(0, 255))
      case 1:
        return valid.slice(0, prng.int(1, valid.byteLength - 1))
      case 2: {
        const extended = new Uint8Array(valid.byteLength + prng.int(1, 8))
        extended.set(valid)
        for (let i = valid.byteLength; i < extended.byteLength; i++) extended[i] = prng.int(0, 255)
        return extended
      }
      default: {
        const flipped = valid.slice()
        for (let n = prng.int(1, 4); n > 0; n--) flipped[prng.int(0, flipped.byteLength - 1)] = prng.int(0, 255)
        return flipped
      }
    }
  }

  it('refuses malformed and oversized updates with 4xx and a reason; the room, its clients and its stored data stay intact', async () => {
    for (const seed of readSeeds([20261130])) {
      await runWithSeed(TEST_NAME, seed, async () => {
        const live = await startLive({ maxMessageBytes: 4096 })
        const room = `fuzzed-${seed}`
        const a = join_(live, room)
        const b = join_(live, room)
        await Promise.all([a.synced(), b.synced()])
        a.doc.getText('t').insert(0, 'steady')
        await waitUntil(() => b.doc.getText('t').toString() === 'steady')
        // What the server holds, kept in step with what it accepts.
        const reference = new Y.Doc()
        Y.applyUpdate(reference, Y.encodeStateAsUpdate(a.doc))
        await waitUntil(async () => findDivergence([await getDocument(live, room), reference]) === null)
        const prng = createPrng(seed)
        const statuses = new Map<number, number>()
        for (let i = 0; i < 120; i++) {
          const body = badBody(prng, textUpdate(prng.string(prng.int(1, 20)), 1000 + i))
          const response = await post(live, room, body)
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
          if (response.status === 200) {
            // A mutation that is still a well-formed update is a write like any other.
            Y.applyUpdate(reference, body)
            continue
          }
          const refused = await errorOf(response)
          expect(refused, `body ${i}: ${Buffer.from(body).toString('hex')}`).toMatchObject({ status: 422, code: 'invalid-update' })
          expect(refused.message).toMatch(/not a well-formed Yjs update/)
        }
        expect(statuses.get(422)).toBeGreaterThan(60)
        const oversized = await post(live, room, new Uint8Array(5000))
        expect(await errorOf(oversized)).toMatchObject({ status: 413, code: 'payload-too-large' })

        // Still one healthy room: clients sync both ways, the store holds exactly what was accepted.
        b.doc.getText('t').insert(0, 'still ')
        await waitUntil(() => a.doc.getText('t').toString().startsWith('still '))
        Y.applyUpdate(reference, Y.encodeStateAsUpdate(b.doc))
        await waitUntil(() => findDivergence([a.doc, b.doc, reference]) === null, { describe: () => findDivergence([a.doc, b.doc, reference]) ?? '' })
        await waitUntil(async () => findDivergence([await getDocument(live, room), reference]) === null)
        await waitUntil(async () => {
          const fromStore = new Y.Doc()
          for (const update of (await live.storage.load(room)).updates) Y.applyUpdate(fromStore, update)
          return findDivergence([fromStore, reference]) === null
        })
      })
    }
  })
})

describe('document API: storage failing', () => {
  it('answers 503 after the bounded wait, and the update is stored once storage is back', async () => {
    const inner = createMemoryStorage()
    let failing = true
    const storage: Storage = new Proxy(inner, {
      get(target, key, receiver) {
        if (key === 'append') {
          return async (batch: Parameters<Storage['append']>[0]) => {
            if (failing) throw new Error('disk on fire')
            return target.append(batch)
          }
        }
        return Reflect.get(target, key, receiver) as unknown
      }
    })
    const live = await startLive({ storage, apiSaveTimeoutMs: 300 })
    const response = await post(live, 'slow', textUpdate('patience', 1))
    expect(await errorOf(response)).toMatchObject({ status: 503, code: 'not-saved-yet' })
    expect(response.headers.get('retry-after')).toBe('5')
    failing = false
    await waitUntil(async () => (await inner.load('slow')).updates.length === 1, { timeoutMs: 20_000 })
  })
})
