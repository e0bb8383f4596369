import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createLevelStorage, createServer, type Storage } from '@quire/server'
import { createPostgresStorage } from '@quire/postgres'
import { createTestSchema, QUIRE_BIN, spawnQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { describeUnsaved, foldSaved } from './saved-state.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'
import { startWebhookReceiver, type ReceiverAnswer, type WebhookReceiver } from './webhook-receiver.js'

/**
 * Webhooks across process deaths, with the real CLI: deliveries pending when `quire
 * serve` is killed with -9 are sent after the restart (the same deliveries, by id), an
 * update acknowledged just before the kill is still announced, and `quire webhooks`
 * lists failed deliveries and re-queues them.
 */

const SECRET = 'a webhook secret of at least thirty-two bytes'
const SECRET_ENV = 'QUIRE_TEST_WEBHOOK_SECRET'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(joinPath(tmpdir(), 'quire-webhooks-process-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function receiver(respond: (index: number) => ReceiverAnswer): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(respond)
  cleanups.push(() => r.close())
  return r
}

async function spawn(dataDir: string, hook: WebhookReceiver, timing: readonly string[]): Promise<SpawnedQuireServer> {
  const server = await spawnQuireServer({
    dataDir,
    args: ['--webhook-url', hook.url, '--webhook-secret-env', SECRET_ENV, ...timing],
    env: { [SECRET_ENV]: SECRET }
  })
  cleanups.push(() => server.kill('SIGKILL'))
  return server
}

function join(server: SpawnedQuireServer, room: string): StockClient {
  const client = createStockClient(server.url, room, { quire: true, maxBackoffTime: 100 })
  cleanups.push(() => client.destroy())
  return client
}

async function acknowledged(client: StockClient): Promise<void> {
  await waitUntil(() => describeUnsaved(client.doc, foldSaved(client.quireMessages)) === null, {
    describe: () => describeUnsaved(client.doc, foldSaved(client.quireMessages)) ?? ''
  })
}

const stateVectorOf = (doc: Y.Doc): string => Buffer.from(Y.encodeStateVector(doc)).toString('base64')

describe('webhooks of the quire serve process', () => {
  it('deliveries pending when the process is killed with -9 are delivered, once each, after the restart', async () => {
    const dataDir = await tempDir()
    let accepting = false
    const hook = await receiver(() => (accepting ? 'accept' : 'fail'))
    const timing = ['--webhook-debounce', '100ms', '--webhook-max-wait', '500ms', '--webhook-retry-base', '200ms']
    let server = await spawn(dataDir, hook, timing)
    const writer = join(server, 'pending')
    await writer.synced()
    writer.doc.getText('t').insert(0, 'kept')
    await acknowledged(writer)
    // Both deliveries (created, updated) were tried and failed: they are in the outbox.
    const tried = (): Set<string> => new Set(hook.requests.map((r) => String(r.headers['quire-delivery'])))
    await waitUntil(() => tried().size === 2, { describe: () => `${tried().size} deliveries tried` })
    const ids = tried()
    await server.kill('SIGKILL')
    writer.provider.disconnect()

    accepting = true
    server = await spawn(dataDir, hook, timing)
    await waitUntil(() => hook.accepted.size === 2, { describe: () => `accepted ${hook.accepted.size}; server output:\n${server.output()}` })
    expect(new Set(hook.accepted.keys())).toEqual(ids)
    for (const { times } of hook.accepted.values()) expect(times).toBe(1)
    expect(hook.events().map((e) => e.event).sort()).toEqual(['document.created', 'document.updated'])
    expect(hook.events().find((e) => e.event === 'document.updated')?.stateVector).toBe(stateVectorOf(writer.doc))
  })

  it('an update acknowledged just before kill -9 is still announced by a document.updated', async () => {
    const dataDir = await tempDir()
    const hook = await receiver(() => 'accept')
    // A window long enough to be open when the process dies.
    const timing = ['--webhook-debounce', '2s', '--webhook-max-wait', '10s']
    let server = await spawn(dataDir, hook, timing)
    const writer = join(server, 'acknowledged')
    await writer.synced()
    writer.doc.getText('t').insert(0, 'first ')
    const updated = (): string[] => hook.events().filter((e) => e.event === 'document.updated').map((e) => e.stateVector as string)
    await waitUntil(() => updated().length === 1)
    expect(updated()).toEqual([stateVectorOf(writer.doc)])

    writer.doc.getText('t').insert(6, 'second')
    await acknowledged(writer)
    await server.kill('SIGKILL')
    writer.provider.disconnect()
    expect(updated()).toHaveLength(1)

    server = await spawn(dataDir, hook, timing)
    await waitUntil(() => updated().length === 2, { describe: () => `${updated().length} document.updated; server output:\n${server.output()}` })
    expect(updated()[1]).toBe(stateVectorOf(writer.doc))
  })
})

describe('webhooks of the quire serve process, stopped with SIGTERM', () => {
  it('announces the windows still open: their events wait in the outbox, no change mark is left', async () => {
    const dataDir = await tempDir()
    const hook = await receiver(() => 'accept')
    const server = await spawn(dataDir, hook, ['--webhook-debounce', '20s', '--webhook-max-wait', '60s'])
    const writer = join(server, 'stopped')
    await writer.synced()
    writer.doc.getText('t').insert(0, 'unannounced')
    await acknowledged(writer)
    await server.kill('SIGTERM')
    expect(server.output()).not.toMatch(/error/i)
    expect(hook.requests).toHaveLength(0)
    const storage = await createLevelStorage(dataDir, { fsync: false })
    try {
      const outbox = storage.webhookOutbox
      expect((await outbox?.list('pending', 10))?.map((d) => d.event).sort()).toEqual(['document.created', 'document.updated'])
      expect(await outbox?.claimMarks(0, 10)).toEqual([])
    } finally {
      await storage.close()
    }
  })
})

const run = promisify(execFile)

async function quireWebhooks(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [QUIRE_BIN, 'webhooks', ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

const STORES: ReadonlyArray<{ name: string; create: () => Promise<{ args: string[]; open: () => Promise<Storage> }> }> = [
  {
    name: 'LevelDB',
    async create() {
      const dir = await tempDir()
      return { args: ['--data', dir], open: () => createLevelStorage(dir, { fsync: false }) }
    }
  },
  {
    name: 'PostgreSQL',
    async create() {
      const schema = await createTestSchema('webhooks_cli')
      cleanups.push(() => schema.drop())
      return { args: ['--postgres', schema.url], open: () => createPostgresStorage({ connectionString: schema.url }) }
    }
  }
]

describe.each(STORES)('quire webhooks on $name', ({ create }) => {
  it('lists a delivery failed after its last attempt, and re-queues it', async () => {
    const store = await create()
    let accepting = false
    const hook = await receiver(() => (accepting ? 'accept' : 'fail'))
    const serveOnce = async (): Promise<{ url: string; server: ReturnType<typeof createServer>; close: () => Promise<void> }> => {
      const storage = await store.open()
      const server = createServer({ storage, webhooks: { urls: [hook.url], secret: SECRET, maxAttempts: 2, retryBaseMs: 20, debounceMs: 20, maxWaitMs: 100 } })
      const { url } = await server.listen(0, '127.0.0.1')
      const close = async (): Promise<void> => {
        await server.close()
        await storage.close()
      }
      return { url: url.replace(/^http/, 'ws'), server, close }
    }
    let served = await serveOnce()
    const writer = createStockClient(served.url, 'given up')
    await writer.synced()
    writer.doc.getText('t').insert(0, 'x')
    // Both tried twice, and the second failure recorded (an attempt cut short by close would not count).
    await waitUntil(async () => (await served.server.webhooks()?.queueDepth())?.failed === 2)
    expect(hook.requests).toHaveLength(4)
    writer.destroy()
    await served.close()

    const listed = await quireWebhooks(store.args)
    expect(listed.code).toBe(0)
    const lines = listed.stdout.trim().split('\n')
    expect(lines[0]).toBe('0 pending, 2 failed')
    const failed = lines.slice(1).map((line) => line.split('\t'))
    expect(failed.map((f) => [f[1], f[2], f[3], f[4], f[5], f[7]]).sort()).toEqual([
      ['failed', 'document.created', '"given up"', hook.url, '2 attempts', 'HTTP 500 Internal Server Error'],
      ['failed', 'document.updated', '"given up"', hook.url, '2 attempts', 'HTTP 500 Internal Server Error']
    ])
    const [first, second] = failed.map((f) => f[0] as string)
    const json = await quireWebhooks([...store.args, '--status', 'failed', '--json'])
    expect(json.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id).sort()).toEqual([first, second].sort())

    expect(await quireWebhooks([...store.args, '--requeue', 'no-such-id'])).toMatchObject({ code: 1, stderr: expect.stringContaining('no failed delivery') })
    expect(await quireWebhooks([...store.args, '--status', 'lost'])).toMatchObject({ code: 1, stderr: expect.stringContaining('--status must be pending or failed') })
    expect((await quireWebhooks([...store.args, '--requeue', first as string])).code).toBe(0)
    expect((await quireWebhooks(store.args)).stdout.split('\n')[0]).toBe('1 pending, 1 failed')
    expect((await quireWebhooks([...store.args, '--requeue-failed'])).stderr).toContain('re-queued 1 failed delivery')
    const pending = await quireWebhooks([...store.args, '--status', 'pending'])
    expect(pending.stdout.split('\n')[0]).toBe('2 pending, 0 failed')
    expect(pending.stdout).toContain('0 attempts')

    accepting = true
    served = await serveOnce()
    cleanups.push(() => served.close())
    await waitUntil(() => hook.accepted.size === 2)
    expect(new Set(hook.accepted.keys())).toEqual(new Set([first, second]))
  })
})
