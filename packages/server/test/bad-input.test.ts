import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { DEFAULT_MAX_MESSAGE_BYTES, encodeMessage } from '@quire/protocol'
import { assertConverged, findDivergence, startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { openRawClient } from './raw-client.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * One test per bad input. Each sends the bad frame on its own connection into a room
 * where stock clients are editing, and then proves:
 *   - only that connection was closed, with the expected close code and a readable reason;
 *   - the process is alive (HTTP health check, new connections) and another room works;
 *   - the same room is not poisoned: the clients in it still converge, a newcomer syncs;
 *   - its stored data is intact: after a restart on the same LevelDB directory, a fresh
 *     client loads exactly the document the well-behaved clients hold.
 */

const utf8 = new TextEncoder()
const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function frame(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

function realUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

interface BadInputCase {
  readonly bytes: Uint8Array | string
  readonly code: number
  readonly maxMessageBytes?: number
}

async function expectOnlyThatConnectionClosed(badInput: BadInputCase): Promise<void> {
  const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-bad-input-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  const serverOptions = { dataDir, ...(badInput.maxMessageBytes === undefined ? {} : { maxMessageBytes: badInput.maxMessageBytes }) }
  let server: QuireServerFixture = await startQuireServer(serverOptions)
  cleanups.push(() => server.close())
  const clients: StockClient[] = []
  cleanups.push(() => {
    for (const c of clients) c.destroy()
  })
  const join = async (room: string): Promise<StockClient> => {
    const client = createStockClient(server.url, room)
    clients.push(client)
    await client.synced()
    return client
  }
  const converge = async (docs: Y.Doc[]): Promise<void> => {
    await waitUntil(() => findDivergence(docs) === null, { describe: () => findDivergence(docs) ?? '' })
    assertConverged(docs)
  }

  const room = 'target room'
  const a = await join(room)
  const b = await join(room)
  const other = await join('bystander room')
  a.doc.getText('t').insert(0, 'before the bad message')
  b.doc.getMap('m').set('before', true)
  other.doc.getText('t').insert(0, 'elsewhere')
  await converge([a.doc, b.doc])

  // The bad connection joins the same room and waits for the server's handshake first.
  const bad = await openRawClient(server.url, room)
  await bad.waitForMessage((m) => m.type === 'sync-step-1')
  if (typeof badInput.bytes === 'string') bad.socket.send(badInput.bytes)
  else bad.socket.send(badInput.bytes, { binary: true })
  const { code, reason } = await bad.closed
  expect(code).toBe(badInput.code)
  // Soft, so that a missing reason does not hide whether the room survived.
  expect.soft(reason, `close reason for code ${code}`).toMatch(/[a-z]{3,}/i)
  expect.soft(reason).not.toContain('\uFFFD')
  expect.soft(utf8.encode(reason).length).toBeLessThanOrEqual(123)

  // The process goes on.
  const health = await fetch(`${server.httpUrl}/healthz`)
  expect(health.status).toBe(200)
  // Nobody else was disconnected, and the room still converges.
  expect(a.provider.wsconnected && b.provider.wsconnected && other.provider.wsconnected).toBe(true)
  a.doc.getText('t').insert(0, 'after: ')
  b.doc.getMap('m').set('after', [1, 2, 3])
  b.doc.getText('t').delete(7, 4)
  await converge([a.doc, b.doc])
  const newcomer = await join(room)
  await converge([a.doc, b.doc, newcomer.doc])
  expect(a.doc.getText('t').toString()).toBe('after: before bad message')
  // Other rooms go on.
  const otherNewcomer = await join('bystander room')
  other.doc.getText('t').insert(0, 'still ')
  await converge([other.doc, otherNewcomer.doc])
  expect(otherNewcomer.doc.getText('t').toString()).toBe('still elsewhere')

  // Stored data is intact: restart on the same directory and load both rooms fresh.
  const expected = new Map([
    [room, Y.encodeStateAsUpdate(a.doc)],
    ['bystander room', Y.encodeStateAsUpdate(other.doc)]
  ])
  for (const c of clients.splice(0)) c.destroy()
  await server.close()
  server = await startQuireServer(serverOptions)
  for (const [name, state] of expected) {
    const reference = new Y.Doc()
    Y.applyUpdate(reference, state)
    const fresh = await join(name)
    await converge([reference, fresh.doc])
  }
}

describe('bad input closes only the offending connection; the room is not poisoned', () => {
  it('truncated message: 1007', async () => {
    const whole = encodeMessage({ type: 'sync-update', update: realUpdate('a valid update, cut short') })
    await expectOnlyThatConnectionClosed({ bytes: whole.slice(0, whole.length - 5), code: 1007 })
  })

  it('garbage bytes: 1007', async () => {
    await expectOnlyThatConnectionClosed({ bytes: new Uint8Array(32).fill(0xff), code: 1007 })
  })

  it('empty binary frame: 1007', async () => {
    await expectOnlyThatConnectionClosed({ bytes: new Uint8Array(0), code: 1007 })
  })

  it('trailing bytes after a valid message: 1007', async () => {
    const whole = encodeMessage({ type: 'sync-update', update: realUpdate('valid') })
    await expectOnlyThatConnectionClosed({ bytes: new Uint8Array([...whole, 0, 1, 2]), code: 1007 })
  })

  it('unknown message type: 1008', async () => {
    await expectOnlyThatConnectionClosed({ bytes: frame((e) => encoding.writeVarUint(e, 7)), code: 1008 })
  })

  it('unknown sync message sub-type: 1008', async () => {
    await expectOnlyThatConnectionClosed({
      bytes: frame((e) => {
        encoding.writeVarUint(e, 0)
        encoding.writeVarUint(e, 9)
        encoding.writeVarUint8Array(e, realUpdate('x'))
      }),
      code: 1008
    })
  })

  it('invalid update in a sync update: 1007', async () => {
    const update = realUpdate('a real update whose structs are then garbled')
    const garbled = update.slice()
    garbled.fill(0xfe, 3, garbled.length - 2)
    await expectOnlyThatConnectionClosed({ bytes: encodeMessage({ type: 'sync-update', update: garbled }), code: 1007 })
  })

  it('invalid update in a sync step 2: 1007', async () => {
    await expectOnlyThatConnectionClosed({
      bytes: encodeMessage({ type: 'sync-step-2', update: utf8.encode('definitely not a Yjs update') }),
      code: 1007
    })
  })

  it('invalid awareness update (state not JSON): 1007', async () => {
    const update = frame((e) => {
      encoding.writeVarUint(e, 1)
      encoding.writeVarUint(e, 12345)
      encoding.writeVarUint(e, 1)
      encoding.writeVarString(e, '{"unterminated": ')
    })
    await expectOnlyThatConnectionClosed({ bytes: encodeMessage({ type: 'awareness', update }), code: 1007 })
  })

  it('message over a configured max-message-bytes: 1009', async () => {
    const limit = 64 * 1024
    const bytes = encodeMessage({ type: 'sync-update', update: realUpdate('x'.repeat(limit)) })
    expect(bytes.length).toBeGreaterThan(limit)
    await expectOnlyThatConnectionClosed({ bytes, code: 1009, maxMessageBytes: limit })
  })

  it('message over the default max-message-bytes (16 MiB): 1009', async () => {
    const bytes = new Uint8Array(DEFAULT_MAX_MESSAGE_BYTES + 1)
    bytes.set(encodeMessage({ type: 'sync-update', update: realUpdate('big') }))
    await expectOnlyThatConnectionClosed({ bytes, code: 1009 })
  })

  it('text frame: 1003', async () => {
    await expectOnlyThatConnectionClosed({ bytes: 'hello, I am text', code: 1003 })
  })

  it('a message exactly at max-message-bytes is accepted and relayed', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-limit-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const update = realUpdate('y'.repeat(10_000))
    const bytes = encodeMessage({ type: 'sync-update', update })
    const server = await startQuireServer({ dataDir, maxMessageBytes: bytes.length })
    cleanups.push(() => server.close())
    const reader = createStockClient(server.url, 'limit')
    cleanups.push(() => reader.destroy())
    await reader.synced()
    const writer = await openRawClient(server.url, 'limit')
    cleanups.push(() => writer.close())
    await writer.waitForMessage((m) => m.type === 'sync-step-1')
    await writer.send(bytes)
    await waitUntil(() => reader.doc.getText('t').length === 10_000)
    expect(writer.socket.readyState).toBe(writer.socket.OPEN)
  })
})
