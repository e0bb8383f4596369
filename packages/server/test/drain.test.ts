import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { CLOSE_SERVICE_RESTART } from '@quire/protocol'
import { createLevelStorage, createMemoryStorage, createServer, type Log, type LogFields, type LogLevel, type Storage } from '@quire/server'
import { createPostgresStorage } from '@quire/postgres'
import { createTestSchema, docFromUpdates, holdTableLock, spawnQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { pollUntil, waitUntil } from './wait-until.js'

/**
 * SIGTERM drains (create-server.ts `close()`, cli/serve-command.ts): readiness answers 503
 * and new upgrades are refused from the first moment, every client is closed with 1012
 * (stock clients reconnect at once), unsaved updates are flushed, and the process exits
 * 0. A storage that cannot finish in time bounds the drain by `drainTimeoutMs`: the server
 * closes anyway and says how many updates it left unsaved.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The close codes each client's connections ended with, in order. */
function closeCodesOf(client: StockClient): number[] {
  const codes: number[] = []
  client.provider.on('connection-close', (event) => codes.push(event?.code ?? -1))
  return codes
}

/** Memory storage whose appends wait while `held` (a slow or unreachable store). */
function createHeldStorage(): { storage: Storage; hold(): void; release(): void; readonly waiting: number } {
  const inner = createMemoryStorage()
  let gate: { promise: Promise<void>; open: () => void } | null = null
  let waiting = 0
  const storage: Storage = {
    ...inner,
    load: (doc) => inner.load(doc),
    async append(batch) {
      if (gate !== null) {
        waiting++
        await gate.promise
        waiting--
      }
      await inner.append(batch)
    },
    replace: (doc, snapshot, upToSeq) => inner.replace(doc, snapshot, upToSeq),
    list: () => inner.list(),
    delete: (doc) => inner.delete(doc),
    close: () => inner.close()
  }
  return {
    storage,
    hold() {
      let open = (): void => {}
      const promise = new Promise<void>((resolve) => (open = resolve))
      gate = { promise, open }
    },
    release() {
      gate?.open()
      gate = null
    },
    get waiting() {
      return waiting
    }
  }
}

function recordingLog(): { log: Log; lines: { level: LogLevel; message: string; fields: LogFields | undefined }[] } {
  const lines: { level: LogLevel; message: string; fields: LogFields | undefined }[] = []
  return { log: (level, message, fields) => lines.push({ level, message, fields }), lines }
}

/** Whether a new WebSocket upgrade is answered (open) or refused (the HTTP status). */
function tryUpgrade(url: string): Promise<'open' | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url)
    socket.on('open', () => {
      socket.terminate()
      resolve('open')
    })
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0)
      socket.terminate()
    })
    socket.on('error', () => {})
  })
}

describe('drain', () => {
  it('quire serve on SIGTERM: clients get 1012, every write is flushed, exit code 0', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-drain-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const server = await spawnQuireServer({ dataDir })
    cleanups.push(() => server.kill())
    const join = (room: string, quire = false): StockClient => {
      const client = createStockClient(server.url, room, { quire })
      cleanups.push(() => client.destroy())
      return client
    }
    const writer = join('drained', true)
    const reader = join('drained')
    const elsewhere = join('another room')
    const codes = [writer, reader, elsewhere].map(closeCodesOf)
    await Promise.all([writer.synced(), reader.synced(), elsewhere.synced()])
    const text = writer.doc.getText('t')
    for (let i = 0; i < 200; i++) text.insert(text.length, `edit ${i} `)
    elsewhere.doc.getMap('m').set('k', 'v')
    // Received by the server (relayed on), saved or not yet: the drain must flush it.
    await waitUntil(() => reader.doc.getText('t').length === text.length)

    await server.kill('SIGTERM')
    expect(server.exitCode()).toBe(0)
    for (const seen of codes) expect(seen[0]).toBe(CLOSE_SERVICE_RESTART)
    expect(server.logMessages()).toMatch(/draining: closing 3 connections with 1012/)
    expect(server.logMessages()).toContain('stopped: every write flushed')
    expect(server.logMessages()).not.toContain('drain timed out')

    const storage = await createLevelStorage(dataDir)
    try {
      expect(docFromUpdates((await storage.load('drained')).updates).getText('t').toString()).toBe(text.toString())
      expect(docFromUpdates((await storage.load('another room')).updates).getMap('m').get('k')).toBe('v')
    } finally {
      await storage.close()
    }
  })

  describe('quire serve on PostgreSQL whose table is locked (a stalled store)', () => {
    async function startWithStalledStore(args: readonly string[] = []) {
      const schema = await createTestSchema('drain')
      cleanups.push(() => schema.drop())
      const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-drain-pg-'))
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
      const server = await spawnQuireServer({ dataDir, args: ['--postgres', schema.url, ...args] })
      cleanups.push(() => server.kill())
      const writer = createStockClient(server.url, 'stalled', { quire: true })
      const reader = createStockClient(server.url, 'stalled')
      cleanups.push(() => writer.destroy(), () => reader.destroy())
      const codes = closeCodesOf(writer)
      await Promise.all([writer.synced(), reader.synced()])
      const lock = await holdTableLock(schema, 'quire_updates')
      cleanups.push(() => lock.release())
      const text = writer.doc.getText('t')
      for (let i = 0; i < 50; i++) text.insert(text.length, `edit ${i} `)
      await waitUntil(() => reader.doc.getText('t').length === text.length)
      // Received and relayed, but not durable: the store does not take the writes.
      const unsaved = await pollUntil(async () => {
        const health = (await (await fetch(`${server.httpUrl}/healthz`)).json()) as { unsavedUpdates: number }
        return health.unsavedUpdates > 0 ? health.unsavedUpdates : undefined
      })
      return { server, schema, lock, codes, text: text.toString(), unsaved }
    }

    const exited = (server: SpawnedQuireServer) => waitUntil(() => server.exitCode() !== null, { timeoutMs: 30_000, describe: server.output })

    it('SIGTERM: /readyz answers 503 while the drain waits, clients get 1012, the writes are flushed once the store answers, exit 0', async () => {
      const { server, schema, lock, codes, text } = await startWithStalledStore()
      process.kill(server.pid, 'SIGTERM')
      const readiness = await pollUntil(async () => {
        const response = await fetch(`${server.httpUrl}/readyz`).catch(() => null)
        return response?.status === 503 ? ((await response.json()) as { reasons: string[] }) : undefined
      })
      expect(readiness.reasons.join('; ')).toMatch(/draining/)
      await waitUntil(() => codes.length > 0)
      expect(codes[0]).toBe(CLOSE_SERVICE_RESTART)
      expect(server.exitCode()).toBeNull()

      await lock.release()
      await exited(server)
      expect(server.exitCode()).toBe(0)
      expect(server.logMessages()).toContain('stopped: every write flushed')
      const storage = await createPostgresStorage({ connectionString: schema.url })
      try {
        expect(docFromUpdates((await storage.load('stalled')).updates).getText('t').toString()).toBe(text)
      } finally {
        await storage.close()
      }
    })

    it('SIGTERM past --drain-timeout: exits 1 and says how many updates were unsaved', async () => {
      const { server, unsaved } = await startWithStalledStore(['--drain-timeout', '1'])
      process.kill(server.pid, 'SIGTERM')
      await exited(server)
      expect(server.exitCode()).toBe(1)
      expect(server.logMessages()).toContain(`drain timed out after 1000 ms: ${unsaved} updates unsaved`)
    })
  })

  it('while draining, /readyz answers 503 and new upgrades are refused; the drain ends once storage has the writes', async () => {
    const held = createHeldStorage()
    const server = createServer({ storage: held.storage })
    const { url } = await server.listen(0, '127.0.0.1')
    const wsUrl = url.replace(/^http/, 'ws')
    cleanups.push(() => server.close())
    const writer = createStockClient(wsUrl, 'slow store')
    cleanups.push(() => writer.destroy())
    const codes = closeCodesOf(writer)
    await writer.synced()
    expect((await fetch(`${url}/readyz`)).status).toBe(200)

    held.hold()
    writer.doc.getText('t').insert(0, 'waiting for a slow store')
    await waitUntil(() => held.waiting > 0 && server.stats().unsavedUpdates > 0)
    let closed = false
    const closing = server.close().then(() => (closed = true))

    const readiness = await pollUntil(async () => {
      const response = await fetch(`${url}/readyz`)
      return response.status === 503 ? ((await response.json()) as { reasons: string[] }) : undefined
    })
    expect(readiness.reasons.join('; ')).toMatch(/draining/)
    expect(await tryUpgrade(`${wsUrl}/another`)).toBe(503)
    await waitUntil(() => codes.length > 0)
    expect(codes[0]).toBe(CLOSE_SERVICE_RESTART)
    expect(closed).toBe(false)

    held.release()
    await closing
    expect(server.stats().unsavedUpdates).toBe(0)
    expect(docFromUpdates((await held.storage.load('slow store')).updates).getText('t').toString()).toBe('waiting for a slow store')
  })

  it('a drain that outlasts drainTimeoutMs ends anyway and logs how many updates were unsaved', async () => {
    const held = createHeldStorage()
    const { log, lines } = recordingLog()
    const server = createServer({ storage: held.storage, drainTimeoutMs: 200, log })
    const { url } = await server.listen(0, '127.0.0.1')
    const writer = createStockClient(url.replace(/^http/, 'ws'), 'never saved')
    cleanups.push(() => writer.destroy())
    await writer.synced()
    held.hold()
    cleanups.push(() => held.release())
    writer.doc.getText('t').insert(0, 'a')
    writer.doc.getText('t').insert(1, 'b')
    await waitUntil(() => held.waiting > 0 && server.stats().unsavedUpdates >= 2)
    const unsaved = server.stats().unsavedUpdates

    await server.close()
    const timedOut = lines.find((line) => line.message.startsWith('drain timed out'))
    expect(timedOut, JSON.stringify(lines)).toMatchObject({ level: 'error', fields: { unsavedUpdates: unsaved, drainTimeoutMs: 200 } })
    expect(server.stats().unsavedUpdates).toBe(unsaved)
  })
})

