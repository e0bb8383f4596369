import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { decodeMessage, type Message } from '@quire/protocol'
import { findDivergence, spawnQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { describeUnsaved, foldSaved } from './saved-state.js'
import { createStockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * The first sync after a restart already holds the document. A restarted `quire serve`
 * has no room in memory; the first stock y-websocket client to open a document must get
 * the whole stored document in the server's very first sync step 2 (the reply to its own
 * step 1), not an empty or partial reply with the rest trickling in as updates later. An
 * editor renders that first reply: a partial one shows an empty or half document.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function spawn(dataDir: string): Promise<SpawnedQuireServer> {
  const server = await spawnQuireServer({ dataDir })
  cleanups.push(() => server.kill('SIGKILL'))
  return server
}

/** A stock y-websocket provider whose WebSocket records every frame it receives, in order. */
function recordingClient(serverUrl: string, room: string): { doc: Y.Doc; provider: WebsocketProvider; received: Message[] } {
  const received: Message[] = []
  class RecordingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args)
      this.on('message', (data: Buffer | ArrayBuffer) => {
        const decoded = decodeMessage(new Uint8Array(data))
        if (!decoded.ok) throw new Error(`the server sent a frame that does not decode: ${decoded.error.reason}`)
        received.push(decoded.message)
      })
    }
  }
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(serverUrl, encodeURIComponent(room), doc, {
    disableBc: true,
    WebSocketPolyfill: RecordingWebSocket as unknown as typeof globalThis.WebSocket
  })
  cleanups.push(() => {
    provider.destroy()
    doc.destroy()
  })
  return { doc, provider, received }
}

/** Many small updates of every kind, deletions included: a log of a few hundred records. */
function write(doc: Y.Doc): void {
  const text = doc.getText('t')
  for (let i = 0; i < 300; i++) {
    text.insert(text.length, `w${i} `)
    if (i % 5 === 4) text.delete(0, 3)
    if (i % 20 === 0) doc.getMap('m').set(`k${i}`, { i })
    if (i % 30 === 0) doc.getArray<number>('a').push([i])
  }
}

describe('the first sync after a restart', () => {
  it('the first sync step 2 a stock client gets from a restarted quire serve holds the whole stored document', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-first-sync-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const room = 'stored document'
    const reference = new Y.Doc()

    let server = await spawn(dataDir)
    const writer = createStockClient(server.url, room, { doc: reference, quire: true })
    cleanups.push(() => writer.provider.destroy())
    await writer.synced()
    write(reference)
    await waitUntil(() => describeUnsaved(reference, foldSaved(writer.quireMessages)) === null, {
      describe: () => describeUnsaved(reference, foldSaved(writer.quireMessages)) ?? ''
    })
    writer.provider.destroy()
    await server.kill('SIGKILL')

    server = await spawn(dataDir)
    const reader = recordingClient(server.url, room)
    await waitUntil(() => reader.provider.synced, { describe: () => `received: ${reader.received.map((m) => m.type).join(', ')}` })

    const firstStep2 = reader.received.findIndex((m) => m.type === 'sync-step-2')
    const before = reader.received.slice(0, firstStep2).map((m) => m.type)
    expect(before.filter((type) => type === 'sync-update'), `frames before the first sync step 2: ${before.join(', ')}`).toEqual([])
    const first = reader.received[firstStep2]
    if (first?.type !== 'sync-step-2') throw new Error(`no sync step 2 among ${reader.received.map((m) => m.type).join(', ')}`)
    const fromFirstReply = new Y.Doc()
    Y.applyUpdate(fromFirstReply, first.update)
    expect(findDivergence([reference, fromFirstReply], { names: ['written', 'first sync step 2'] })).toBeNull()
    expect(fromFirstReply.getText('t').toString()).toBe(reference.getText('t').toString())
  })
})
