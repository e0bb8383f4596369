import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CLOSE_UNSUPPORTED_DATA } from '@quire/protocol'
import { createServer, type ServerOptions } from '@quire/server'
import { openRawClient } from './raw-client.js'
import { scrapeMetrics, type Scrape } from './scrape-metrics.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * `/metrics` (metrics/server-metrics.ts): Prometheus text format that a real parser reads,
 * whose counters move with real traffic from stock y-websocket clients; served on its own
 * listener with `metricsPort` and then not on the main port; one registry per server;
 * absent with `metrics: false`.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function startServer(options: ServerOptions = {}) {
  const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-metrics-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  const server = createServer({ dataDir, ...options })
  const listening = await server.listen(0, '127.0.0.1')
  cleanups.push(() => server.close())
  return { server, ...listening, wsUrl: listening.url.replace(/^http/, 'ws') }
}

function join(wsUrl: string, room: string, options: { quire?: boolean } = {}): StockClient {
  const client = createStockClient(wsUrl, room, options)
  cleanups.push(() => client.destroy())
  return client
}

/** Two stock clients of one room, one of them typing until the other has it. */
async function exchangeEdits(wsUrl: string, room: string): Promise<void> {
  const writer = join(wsUrl, room, { quire: true })
  const reader = join(wsUrl, room)
  await Promise.all([writer.synced(), reader.synced()])
  writer.doc.getText('t').insert(0, 'hello ')
  writer.doc.getText('t').insert(6, 'world')
  await waitUntil(() => reader.doc.getText('t').toString() === 'hello world', { describe: () => `reader has "${reader.doc.getText('t').toString()}"` })
  // The writer's updates become durable: it hears so (it asked for the Quire extension).
  await waitUntil(() => writer.quireMessages.some((m) => m.type === 'quire-saved'), { describe: () => 'no saved acknowledgement' })
}

describe('/metrics', () => {
  it('parses as Prometheus text format, and its counters move with traffic; a bad message moves closes by code', async () => {
    const { url, wsUrl } = await startServer()
    const before = await scrapeMetrics(`${url}/metrics`)
    expect(before.value('quire_connections')).toBe(0)
    expect(before.value('quire_deliveries_total')).toBe(0)
    expect(before.count('quire_commit_batch_updates')).toBe(0)
    // The process's default metrics come with the scrape.
    expect(before.families.has('process_cpu_user_seconds_total')).toBe(true)
    expect(before.families.has('nodejs_eventloop_lag_seconds')).toBe(true)

    await exchangeEdits(wsUrl, 'doc one')
    const after = await scrapeMetrics(`${url}/metrics`)
    expect(after.value('quire_connections')).toBe(2)
    expect(after.value('quire_rooms')).toBe(1)
    expect(after.value('quire_rooms_loaded_total')).toBe(1)
    expect(after.value('quire_messages_received_total', { type: 'sync-step-1' })).toBeGreaterThanOrEqual(2)
    expect(after.value('quire_messages_received_total', { type: 'sync-update' })).toBeGreaterThanOrEqual(2)
    expect(after.value('quire_updates_relayed_total')).toBeGreaterThanOrEqual(2)
    // Each relayed update reached the reader: at least one delivery each, plus the greetings and sync replies.
    expect(after.value('quire_deliveries_total')).toBeGreaterThanOrEqual(after.value('quire_updates_relayed_total') + 2)
    expect(after.value('quire_socket_writes_total')).toBeGreaterThan(0)
    expect(after.value('quire_socket_writes_total')).toBeLessThanOrEqual(after.value('quire_deliveries_total'))
    expect(after.value('quire_received_bytes_total')).toBeGreaterThan(0)
    expect(after.value('quire_sent_bytes_total')).toBeGreaterThan(0)
    expect(after.count('quire_commit_batch_updates')).toBeGreaterThanOrEqual(1)
    expect(after.count('quire_commit_batch_duration_seconds')).toBe(after.count('quire_commit_batch_updates'))
    expect(after.count('quire_receive_to_ack_seconds')).toBe(after.count('quire_commit_batch_updates'))
    expect(after.value('quire_unsaved_updates')).toBe(0)
    expect(after.value('quire_storage_errors_total')).toBe(0)
    expect(after.value('quire_closes_total')).toBe(0)

    const bad = await openRawClient(wsUrl, 'doc one')
    bad.socket.send('text frames are not part of the protocol')
    expect((await bad.closed).code).toBe(CLOSE_UNSUPPORTED_DATA)
    const closed = await scrapeMetrics(`${url}/metrics`)
    expect(closed.value('quire_closes_total', { code: String(CLOSE_UNSUPPORTED_DATA) })).toBe(1)
    expect(closed.value('quire_closes_total')).toBe(1)
  })

  it('with metricsPort, is served on its own listener and not on the main port', async () => {
    const { url, metricsUrl } = await startServer({ metricsPort: 0 })
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(metricsUrl).not.toBe(url)
    const scrape = await scrapeMetrics(`${metricsUrl}/metrics`)
    expect(scrape.value('quire_connections')).toBe(0)
    expect((await fetch(`${url}/metrics`)).status).toBe(404)
    // The metrics listener serves nothing else.
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(404)
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
  })

  it('a metricsPort already taken fails listen(), as a taken main port would', async () => {
    const { metricsUrl } = await startServer({ metricsPort: 0 })
    const takenPort = Number(new URL(metricsUrl ?? '').port)
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-metrics-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const second = createServer({ dataDir, metricsPort: takenPort })
    cleanups.push(() => second.close())
    await expect(second.listen(0, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/)
  })

  it('two servers in one process keep metrics of their own', async () => {
    const first = await startServer()
    const second = await startServer()
    expect(first.server.metrics?.registry).not.toBe(second.server.metrics?.registry)
    await exchangeEdits(first.wsUrl, 'shared name')
    const [a, b]: [Scrape, Scrape] = await Promise.all([scrapeMetrics(`${first.url}/metrics`), scrapeMetrics(`${second.url}/metrics`)])
    expect(a.value('quire_connections')).toBe(2)
    expect(a.value('quire_deliveries_total')).toBeGreaterThan(0)
    expect(b.value('quire_connections')).toBe(0)
    expect(b.value('quire_deliveries_total')).toBe(0)
    expect(b.value('quire_messages_received_total')).toBe(0)
    expect(b.count('quire_commit_batch_updates')).toBe(0)
  })

  it('with metrics: false, nothing is served and the server has no registry', async () => {
    const { server, url, wsUrl } = await startServer({ metrics: false })
    await exchangeEdits(wsUrl, 'unmetered')
    expect(server.metrics).toBeNull()
    expect((await fetch(`${url}/metrics`)).status).toBe(404)
  })

  it('no label carries a room name', async () => {
    const { url, wsUrl } = await startServer()
    await exchangeEdits(wsUrl, 'a-room-name-that-must-not-be-a-label')
    const text = await (await fetch(`${url}/metrics`)).text()
    expect(text).not.toContain('a-room-name-that-must-not-be-a-label')
  })
})
