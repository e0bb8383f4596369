import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createLevelStorage, createMemoryStorage, createServer, type QuireServer } from '@quire/server'
import { createObservedStorage, findDivergence, spawnQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * A reconnect storm: every client of a server comes back at once when it restarts, stock
 * y-websocket clients in lockstep (no jitter in their backoff). Each room is read from
 * storage once however many of its clients ask for it at the same moment; the kernel
 * holds a storm's connections for the server instead of dropping them; and after a
 * kill -9, a thousand stock clients come back by themselves, refusals with 1013 included,
 * and converge, edits made while the server was down included.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(joinPath(tmpdir(), 'quire-storm-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function health(httpUrl: string): Promise<{ roomsLoaded: number; unsavedUpdates: number; connections: number }> {
  return (await (await fetch(`${httpUrl}/healthz`)).json()) as { roomsLoaded: number; unsavedUpdates: number; connections: number }
}

/** Limits a load from one address (the test's 127.0.0.1) needs; everything else stays the default. */
const MANY_CLIENTS_FROM_ONE_ADDRESS = ['--max-connections-per-ip', '2000']

describe('a burst of clients opening the same rooms', () => {
  it('loads each room from storage once, whatever the number of clients waiting for it', async () => {
    const rooms = Array.from({ length: 10 }, (_, i) => `room ${i}`)
    const observed = createObservedStorage(await createLevelStorage(await tempDir()))
    cleanups.push(() => observed.storage.close())
    const written = rooms.map((room) => {
      const doc = new Y.Doc()
      doc.getText('t').insert(0, `stored in ${room}`)
      return Y.encodeStateAsUpdate(doc)
    })
    await observed.storage.append(rooms.map((room, i) => ({ doc: room, updates: [written[i] as Uint8Array] })))
    const server: QuireServer = createServer({
      storage: observed.storage,
      limits: { maxConnectionsPerIp: 1000, maxNewConnectionsPerSecondPerIp: 10_000, newConnectionBurstPerIp: 10_000 }
    })
    cleanups.push(() => server.close())
    const { url } = await server.listen(0, '127.0.0.1')

    // Every load waits until all 300 clients are in, each asking for its room.
    observed.holdLoads()
    const clients: StockClient[] = []
    for (let i = 0; i < 300; i++) clients.push(createStockClient(url.replace(/^http/, 'ws'), rooms[i % rooms.length] as string))
    cleanups.push(() => {
      for (const client of clients) client.destroy()
    })
    await waitUntil(() => server.stats().connections === clients.length, { describe: () => `${server.stats().connections} of ${clients.length} connected` })
    expect([...observed.loads].sort()).toEqual([...rooms].sort())

    observed.releaseLoads()
    await Promise.all(clients.map((client) => client.synced()))
    for (const [i, client] of clients.entries()) expect(client.doc.getText('t').toString()).toBe(`stored in ${rooms[i % rooms.length]}`)
    expect(observed.loads).toHaveLength(rooms.length)
    expect(server.stats().roomsLoaded).toBe(rooms.length)
  })
})

describe('the listening socket', () => {
  it('lets the kernel hold as many connections as the server may have open (as far as net.core.somaxconn allows)', async () => {
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'))
    for (const maxConnections of [100, 10_000]) {
      const server = createServer({ storage: createMemoryStorage(), limits: { maxConnections } })
      const { port } = await server.listen(0, '127.0.0.1')
      // For a listening socket, ss shows the backlog as Send-Q.
      const listening = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim().split(/\s+/)
      await server.close()
      expect(Number(listening[2]), `ss: ${listening.join(' ')}`).toBe(Math.min(maxConnections, somaxconn))
    }
  })
})

/** Waits until the clients of each room hold the same document, with every client's edit in it. */
async function converged(rooms: readonly string[], clients: readonly { room: string; client: StockClient }[]): Promise<void> {
  for (const room of rooms) {
    const docs = clients.filter((entry) => entry.room === room).map(({ client }) => client.doc)
    await waitUntil(() => findDivergence(docs) === null, { describe: () => `${room}: ${findDivergence(docs)}` })
  }
}

describe('a thousand stock clients across a kill -9', () => {
  it('all come back by themselves, refused ones included, each room loaded once, and converge with what was typed while the server was down', async () => {
    const dataDir = await tempDir()
    const roomCount = 100
    const perRoom = 10
    const rooms = Array.from({ length: roomCount }, (_, i) => `storm room ${i}`)
    let server: SpawnedQuireServer = await spawnQuireServer({ dataDir, args: [...MANY_CLIENTS_FROM_ONE_ADDRESS, '--max-new-connections-per-second-per-ip', '100000'] })
    cleanups.push(() => server.kill('SIGKILL'))
    const { port } = server

    // Stock settings: y-websocket's own backoff (200 ms doubling to 2.5 s, no jitter).
    const clients = Array.from({ length: roomCount * perRoom }, (_, i) => ({
      room: rooms[i % roomCount] as string,
      client: createStockClient(server.url, rooms[i % roomCount] as string, { maxBackoffTime: 2500 }),
      refusedWith1013: 0,
      resynced: false
    }))
    cleanups.push(() => {
      for (const { client } of clients) client.destroy()
    })
    const stoppedForGood: string[] = []
    for (const entry of clients) {
      entry.client.provider.on('connection-close', (event) => {
        if (event?.code === 1013) entry.refusedWith1013++
      })
      entry.client.provider.on('closed', ({ code, reason }) => stoppedForGood.push(`${entry.room}: ${code} ${reason}`))
    }
    await Promise.all(clients.map(({ client }) => client.synced(30_000)))
    clients.forEach(({ client }, i) => client.doc.getText('t').insert(0, `client ${i}. `))
    await converged(rooms, clients)
    // Relayed means accepted; nothing unsaved means it is all durable before the kill.
    await waitUntil(async () => (await health(server.httpUrl)).unsavedUpdates === 0)

    await server.kill('SIGKILL')
    await waitUntil(() => clients.every(({ client }) => !client.provider.wsconnected))
    const killedAt = performance.now()
    for (const entry of clients) {
      entry.client.provider.on('sync', (synced: boolean) => {
        if (synced && performance.now() > killedAt) entry.resynced = true
      })
    }
    // Edits while the server is down: kept by the clients, sent by the sync handshake.
    clients.forEach(({ client }, i) => {
      if (i % 10 === 0) client.doc.getText('t').insert(0, `offline ${i}. `)
    })
    // 16 new connections per second with a burst of 512 is the default for an address;
    // 25 raises the burst to 800, so a couple of hundred of these thousand clients are
    // refused with 1013 and must come back on their own, as a busy office behind one
    // NAT would after a restart.
    server = await spawnQuireServer({ dataDir, port, args: [...MANY_CLIENTS_FROM_ONE_ADDRESS, '--max-new-connections-per-second-per-ip', '25'] })

    await waitUntil(() => clients.every((entry) => entry.resynced), {
      timeoutMs: 30_000,
      describe: () => `${clients.filter((entry) => !entry.resynced).length} clients not synced again; ${stoppedForGood.length} stopped for good (${stoppedForGood.slice(0, 3).join('; ')})`
    })
    await converged(rooms, clients)
    clients.forEach(({ room, client }, i) => {
      const text = clients.find((other) => other.room === room)?.client.doc.getText('t').toString() ?? ''
      expect(text).toContain(`client ${i}. `)
      if (i % 10 === 0) expect(text).toContain(`offline ${i}. `)
      expect(client.provider.shouldConnect).toBe(true)
    })
    expect(stoppedForGood).toEqual([])
    const refused = clients.filter((entry) => entry.refusedWith1013 > 0)
    expect(refused.length, 'clients refused with 1013 after the restart').toBeGreaterThan(0)
    // Each room was read from storage once in the restarted process: the storm's clients of a room waited for one load.
    expect((await health(server.httpUrl)).roomsLoaded).toBe(roomCount)
  })
})
