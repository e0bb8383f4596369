import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  createMemoryStorage,
  createServer,
  signWebhookBody,
  verifyWebhookSignature,
  type QuireServer,
  type ServerOptions,
  type Storage,
  type WebhookOptions
} from '@quire/server'
import { describeUnsaved, foldSaved } from './saved-state.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'
import { startWebhookReceiver, type ReceiverAnswer, type WebhookReceiver } from './webhook-receiver.js'

/**
 * Webhooks end to end in one process: stock y-websocket clients edit, a receiver on
 * 127.0.0.1 gets signed events, failing and hanging as told; the outbox retries, fails
 * for good, and is listed and re-queued over HTTP.
 */

const SECRET = 'a webhook secret of at least thirty-two bytes'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function receiver(respond?: Parameters<typeof startWebhookReceiver>[0]): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(respond)
  cleanups.push(() => r.close())
  return r
}

async function start(webhooks: Omit<WebhookOptions, 'secret'>, options: ServerOptions = {}): Promise<{ server: QuireServer; url: string; httpUrl: string }> {
  let dataDir = options.dataDir
  if (options.storage === undefined && dataDir === undefined) {
    const dir = await mkdtemp(joinPath(tmpdir(), 'quire-webhooks-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    dataDir = dir
  }
  const server = createServer({ ...options, ...(dataDir === undefined ? {} : { dataDir }), fsync: false, webhooks: { secret: SECRET, ...webhooks } })
  const { url } = await server.listen(0, '127.0.0.1')
  cleanups.push(() => server.close())
  return { server, url: url.replace(/^http/, 'ws'), httpUrl: url }
}

function join(url: string, room: string, options: { quire?: boolean; doc?: Y.Doc } = {}): StockClient {
  const client = createStockClient(url, room, options)
  cleanups.push(() => client.destroy())
  return client
}

function base64StateVector(doc: Y.Doc): string {
  return Buffer.from(Y.encodeStateVector(doc)).toString('base64')
}

/** Answers by the attempt number of each delivery id (1 for its first request). */
function byAttempt(answer: (attempt: number) => ReceiverAnswer): Parameters<typeof startWebhookReceiver>[0] {
  const attempts = new Map<string, number>()
  return (_index, headers) => {
    const id = String(headers['quire-delivery'])
    const attempt = (attempts.get(id) ?? 0) + 1
    attempts.set(id, attempt)
    return answer(attempt)
  }
}

describe('webhooks', () => {
  it('a delivery that fails twice and times out once arrives once, signed, when the receiver accepts it', async () => {
    const hook = await receiver(byAttempt((attempt) => (attempt <= 2 ? 'fail' : attempt === 3 ? 'hang' : 'accept')))
    const { server, url } = await start({ urls: [hook.url], retryBaseMs: 50, attemptTimeoutMs: 300, debounceMs: 100, maxWaitMs: 500 })
    const writer = join(url, 'retried')
    await writer.synced()
    writer.doc.getText('t').insert(0, 'hello')

    // A new document: document.created, then document.updated.
    await waitUntil(() => hook.accepted.size === 2, { describe: () => `${hook.requests.length} requests, accepted ${hook.accepted.size}` })
    for (const [id, { body, headers, times }] of hook.accepted) {
      expect(times).toBe(1)
      expect(hook.requests.filter((r) => r.headers['quire-delivery'] === id).map((r) => r.answer)).toEqual(['fail', 'fail', 'hang', 'accept'])
      expect(verifyWebhookSignature(SECRET, headers['quire-signature'] as string, body)).toMatchObject({ ok: true })
      expect(verifyWebhookSignature('another secret of at least thirty-two bytes', headers['quire-signature'] as string, body)).toEqual({ ok: false, reason: 'mismatch' })
      const parsed = JSON.parse(body) as { id: string; event: string; room: string; stateVector: string }
      expect(parsed.id).toBe(id)
      expect(headers['quire-event']).toBe(parsed.event)
      expect(headers['content-type']).toBe('application/json')
      expect(parsed.room).toBe('retried')
      expect(parsed.stateVector).toBe(base64StateVector(writer.doc))
    }
    expect(hook.events().map((e) => e.event).sort()).toEqual(['document.created', 'document.updated'])
    // Every attempt was signed anew over the same body.
    const attempts = hook.requests.filter((r) => r.headers['quire-delivery'] === hook.events()[0]?.id)
    expect(new Set(attempts.map((r) => r.body)).size).toBe(1)
    await waitUntil(async () => (await server.webhooks()?.queueDepth())?.pending === 0)
    expect(server.webhooks()?.counters).toEqual({ delivered: 2, retried: 6, failed: 0 })
  })

  it('a burst of edits makes one document.updated per debounce window', async () => {
    const hook = await receiver()
    const { url } = await start({ urls: [hook.url], debounceMs: 1000, maxWaitMs: 30_000 })
    const writer = join(url, 'burst')
    await writer.synced()
    const updated = (): string[] => hook.events().filter((e) => e.event === 'document.updated').map((e) => e.stateVector as string)
    const text = writer.doc.getText('t')
    for (const round of [1, 2]) {
      // Twenty edits, each its own update on the wire and its own commit.
      for (let i = 0; i < 20; i++) {
        text.insert(text.length, `${round}.${i} `)
        await new Promise((resolve) => setTimeout(resolve, 15))
      }
      const after = base64StateVector(writer.doc)
      await waitUntil(() => updated().includes(after), { describe: () => `updated events: ${updated().length}` })
      // One event, announcing the whole burst: had the window closed mid-burst there would be two.
      expect(updated()).toHaveLength(round)
    }
  })

  it('while edits go on without a pause, document.updated still comes at least every max-wait', async () => {
    const hook = await receiver()
    const { url } = await start({ urls: [hook.url], debounceMs: 400, maxWaitMs: 1000 })
    const writer = join(url, 'continuous')
    await writer.synced()
    let typing = true
    const typist = (async () => {
      const text = writer.doc.getText('t')
      while (typing) {
        text.insert(text.length, 'x')
        await new Promise((resolve) => setTimeout(resolve, 40))
      }
    })()
    const updated = (): number => hook.events().filter((e) => e.event === 'document.updated').length
    try {
      // With a debounce alone, none would come while the typist never pauses.
      await waitUntil(() => updated() >= 3, { timeoutMs: 20_000, describe: () => `${updated()} document.updated while typing` })
      expect(typing).toBe(true)
    } finally {
      typing = false
      await typist
    }
    const vectors = hook.events().filter((e) => e.event === 'document.updated').map((e) => Y.decodeStateVector(Buffer.from(e.stateVector as string, 'base64')))
    for (let i = 1; i < vectors.length; i++) {
      expect((vectors[i]?.get(writer.doc.clientID) ?? 0) > (vectors[i - 1]?.get(writer.doc.clientID) ?? 0)).toBe(true)
    }
  })

  it('document.created only for a document whose stored log was empty; the API events created and deleted', async () => {
    const hook = await receiver()
    const storage = createMemoryStorage()
    const before = new Y.Doc()
    before.getText('t').insert(0, 'already here')
    await storage.append([{ doc: 'existing', updates: [Y.encodeStateAsUpdate(before)] }])
    const { server, url } = await start({ urls: [hook.url], debounceMs: 50, maxWaitMs: 200 }, { storage })
    const fresh = join(url, 'fresh')
    const old = join(url, 'existing')
    await Promise.all([fresh.synced(), old.synced()])
    fresh.doc.getText('t').insert(0, 'new')
    old.doc.getText('t').insert(0, 'more ')
    const events = (): string[] => hook.events().map((e) => `${e.event} ${e.room}`).sort()
    await waitUntil(() => events().length === 3, { describe: () => events().join(', ') })
    expect(events()).toEqual(['document.created fresh', 'document.updated existing', 'document.updated fresh'])

    const webhooks = server.webhooks()
    if (webhooks === null) throw new Error('webhooks are on')
    await webhooks.documentEvents.created('made by the API')
    await webhooks.documentEvents.deleted('existing')
    await waitUntil(() => events().length === 5, { describe: () => events().join(', ') })
    const deleted = hook.events().find((e) => e.event === 'document.deleted')
    expect(deleted).toMatchObject({ room: 'existing' })
    expect(deleted?.stateVector).toBeUndefined()
    expect(hook.events().find((e) => e.room === 'made by the API')).toMatchObject({ event: 'document.created', stateVector: 'AA==' })
  })

  it('with the document API: PUT and DELETE announce created and deleted, API keys open the deliveries routes, /metrics counts deliveries', async () => {
    const hook = await receiver()
    const { httpUrl, url } = await start({ urls: [hook.url], debounceMs: 50, maxWaitMs: 200 }, { apiKeys: ['operator-key'] })
    const call = (path: string, init: RequestInit = {}, key: string | null = 'operator-key'): Promise<Response> =>
      fetch(`${httpUrl}${path}`, { ...init, headers: key === null ? {} : { authorization: `Bearer ${key}` } })
    expect((await call('/api/v1/documents/made%20by%20PUT', { method: 'PUT' })).status).toBe(201)
    const writer = join(url, 'to delete')
    await writer.synced()
    writer.doc.getText('t').insert(0, 'soon gone')
    const events = (): string[] => hook.events().map((e) => `${e.event} ${e.room}`).sort()
    await waitUntil(() => events().includes('document.updated to delete'), { describe: () => events().join(', ') })
    expect((await call('/api/v1/documents/to%20delete', { method: 'DELETE' })).status).toBe(200)
    await waitUntil(() => events().includes('document.deleted to delete'), { describe: () => events().join(', ') })
    expect(events()).toEqual(['document.created made by PUT', 'document.created to delete', 'document.deleted to delete', 'document.updated to delete'])

    // The operators' routes: an API key, never nothing.
    expect((await call('/api/v1/webhooks/deliveries', {}, null)).status).toBe(401)
    expect((await call('/api/v1/webhooks/deliveries', {}, 'a guess')).status).toBe(401)
    const listed = await call('/api/v1/webhooks/deliveries')
    expect(listed.status).toBe(200)
    await waitUntil(async () => ((await (await call('/api/v1/webhooks/deliveries')).json()) as { deliveries: unknown[] }).deliveries.length === 0)

    const metrics = await (await fetch(`${httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/^quire_webhook_deliveries_total\{result="delivered"\} 4$/m)
    expect(metrics).toMatch(/^quire_webhook_deliveries_total\{result="failed"\} 0$/m)
    expect(metrics).toMatch(/^quire_webhook_queue_depth\{status="pending"\} 0$/m)
  })

  it('a DELETE whose webhook event cannot be recorded in time deletes nothing (503); once it can, it deletes and the event is sent', async () => {
    const hook = await receiver()
    const storage = createMemoryStorage()
    const outbox = storage.webhookOutbox
    if (outbox === undefined) throw new Error('the memory store keeps an outbox')
    let outboxFailing = false
    const observed: Storage = {
      ...storage,
      webhookOutbox: {
        ...outbox,
        enqueue(deliveries, settles) {
          if (outboxFailing) return Promise.reject(new Error('outbox write failed'))
          return outbox.enqueue(deliveries, settles)
        }
      }
    }
    const { httpUrl, url } = await start({ urls: [hook.url], debounceMs: 50, maxWaitMs: 200 }, { storage: observed, apiSaveTimeoutMs: 300 })
    const writer = join(url, 'kept')
    await writer.synced()
    writer.doc.getText('t').insert(0, 'still here')
    await waitUntil(() => hook.events().some((e) => e.event === 'document.updated'))
    outboxFailing = true
    const refused = await fetch(`${httpUrl}/api/v1/documents/kept`, { method: 'DELETE' })
    expect(refused.status).toBe(503)
    const read = await fetch(`${httpUrl}/api/v1/documents/kept?format=json`)
    expect(read.status).toBe(200)
    expect(await read.json()).toEqual({ t: 'still here' })
    outboxFailing = false
    expect((await fetch(`${httpUrl}/api/v1/documents/kept`, { method: 'DELETE' })).status).toBe(200)
    await waitUntil(() => hook.events().some((e) => e.event === 'document.deleted' && e.room === 'kept'))
  })

  it('windows that close together are written to the outbox together', async () => {
    const hook = await receiver()
    const storage = createMemoryStorage()
    const outbox = storage.webhookOutbox
    if (outbox === undefined) throw new Error('the memory store keeps an outbox')
    const writes: number[] = []
    const observed: Storage = {
      ...storage,
      webhookOutbox: {
        ...outbox,
        enqueue(deliveries, settles) {
          writes.push(settles?.length ?? 0)
          return outbox.enqueue(deliveries, settles)
        }
      }
    }
    const { url } = await start({ urls: [hook.url], debounceMs: 200, maxWaitMs: 1000 }, { storage: observed })
    const writers = Array.from({ length: 10 }, (_, i) => join(url, `together ${i}`))
    await Promise.all(writers.map((w) => w.synced()))
    // In one turn: one group commit for all ten, ten windows closing at the same moment.
    for (const w of writers) w.doc.getText('t').insert(0, 'x')
    await waitUntil(() => hook.accepted.size === 20, { describe: () => `${hook.accepted.size} accepted` })
    expect(writes.reduce((a, b) => a + b, 0)).toBe(10)
    expect(writes.length).toBeLessThan(10)
  })

  it('after the last attempt a delivery is failed; the HTTP route lists it and re-queues it', async () => {
    let accepting = false
    const hook = await receiver(() => (accepting ? 'accept' : 'fail'))
    const { server, url, httpUrl } = await start({
      urls: [hook.url],
      retryBaseMs: 20,
      maxAttempts: 3,
      debounceMs: 50,
      maxWaitMs: 200,
      authorize: (request) => request.headers.authorization === 'Bearer k'
    })
    const writer = join(url, 'failing')
    await writer.synced()
    writer.doc.getText('t').insert(0, 'x')
    await waitUntil(async () => (await server.webhooks()?.queueDepth())?.failed === 2)
    expect(hook.requests).toHaveLength(6)
    expect(server.webhooks()?.counters).toEqual({ delivered: 0, retried: 4, failed: 2 })

    const api = async (path: string, init: RequestInit = {}, key: string | null = 'k'): Promise<{ status: number; body: any }> => {
      const response = await fetch(`${httpUrl}/api/v1/webhooks/deliveries${path}`, { ...init, headers: key === null ? {} : { authorization: `Bearer ${key}` } })
      return { status: response.status, body: await response.json() }
    }
    expect(await api('?status=failed', {}, null)).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } })
    expect(await api('?status=failed', {}, 'wrong')).toMatchObject({ status: 401 })
    expect(await api('?status=lost')).toMatchObject({ status: 400, body: { error: { code: 'bad-request' } } })
    expect(await api('?status=failed', { method: 'DELETE' })).toMatchObject({ status: 405, body: { error: { code: 'method-not-allowed' } } })
    const listed = await api('?status=failed')
    expect(listed.status).toBe(200)
    expect(listed.body.deliveries).toHaveLength(2)
    for (const d of listed.body.deliveries) {
      expect(d).toMatchObject({ status: 'failed', room: 'failing', url: hook.url, attempts: 3, lastError: 'HTTP 500 Internal Server Error' })
    }
    expect((await api('?status=pending')).body.deliveries).toEqual([])
    expect(await api('/no-such-id/requeue', { method: 'POST' })).toMatchObject({ status: 404, body: { error: { code: 'not-found' } } })

    accepting = true
    const [first, second] = listed.body.deliveries as Array<{ id: string }>
    expect(await api(`/${first?.id}/requeue`, { method: 'POST' })).toEqual({ status: 200, body: { requeued: 1 } })
    await waitUntil(() => hook.accepted.has(first?.id as string))
    expect(hook.accepted.has(second?.id as string)).toBe(false)
    expect(await api('/requeue', { method: 'POST' })).toEqual({ status: 200, body: { requeued: 1 } })
    await waitUntil(() => hook.accepted.has(second?.id as string))
    await waitUntil(async () => (await server.webhooks()?.queueDepth())?.pending === 0)
    expect((await api('')).body.deliveries).toEqual([])
  })

  it('a receiver that never answers holds at most maxInFlight requests at once and delays no acknowledgement', async () => {
    const hook = await receiver(() => 'hang')
    const { url } = await start({ urls: [hook.url], maxInFlight: 2, attemptTimeoutMs: 300, retryBaseMs: 60_000, debounceMs: 20, maxWaitMs: 100 })
    // Four new documents: eight deliveries, each tried once within the next minute.
    const writers = ['first', 'second', 'third', 'fourth'].map((room) => join(url, room, { quire: true }))
    await Promise.all(writers.map((w) => w.synced()))
    for (const w of writers) w.doc.getText('t').insert(0, 'b')
    for (const w of writers) {
      await waitUntil(() => describeUnsaved(w.doc, foldSaved(w.quireMessages)) === null, { describe: () => describeUnsaved(w.doc, foldSaved(w.quireMessages)) ?? '' })
    }
    const tried = (): number => new Set(hook.requests.map((r) => r.headers['quire-delivery'])).size
    await waitUntil(() => tried() === 8, { describe: () => `${tried()} deliveries tried` })
    expect(hook.maxOpen).toBe(2)
  })
})

describe('verifyWebhookSignature', () => {
  const body = '{"id":"1","event":"document.updated","room":"r","createdAt":"2026-11-30T00:00:00.000Z"}'
  const now = 1_800_000_000

  it('accepts the signature of the body and refuses a changed body, another secret, an old timestamp and garbage', () => {
    const header = signWebhookBody(SECRET, body, now)
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/)
    expect(verifyWebhookSignature(SECRET, header, body, 300, now + 10)).toEqual({ ok: true, timestamp: now })
    expect(verifyWebhookSignature(SECRET, header, Buffer.from(body), 300, now)).toEqual({ ok: true, timestamp: now })
    expect(verifyWebhookSignature(SECRET, header, body.replace('"r"', '"s"'), 300, now)).toEqual({ ok: false, reason: 'mismatch' })
    expect(verifyWebhookSignature(SECRET, header, body, 300, now + 301)).toEqual({ ok: false, reason: 'expired' })
    // A replay with a fresh timestamp but the old signature is a mismatch.
    expect(verifyWebhookSignature(SECRET, header.replace(`t=${now}`, `t=${now + 400}`), body, 300, now + 400)).toEqual({ ok: false, reason: 'mismatch' })
    for (const garbage of [undefined, '', 'v1=abc', `t=${now}`, 't=x,v1=zz']) {
      expect(verifyWebhookSignature(SECRET, garbage, body, 300, now)).toEqual({ ok: false, reason: 'malformed' })
    }
  })

  it('accepts any of several v1 signatures (a secret being rotated)', () => {
    const old = signWebhookBody('the old secret, also at least thirty-two bytes', body, now)
    const current = signWebhookBody(SECRET, body, now)
    const header = `${old},${current.split(',')[1]}`
    expect(verifyWebhookSignature(SECRET, header, body, 300, now)).toEqual({ ok: true, timestamp: now })
  })
})
