import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { decodeMessage, encodeMessage, type Message } from '@quire/protocol'
import {
  createShareTokenIssuer,
  createTokenAuthenticator,
  signRoomToken,
  verifyRoomToken,
  type RoomGrant
} from '@quire/server'
import { findDivergence, QUIRE_BIN, spawnQuireServer, startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { waitUntil } from './wait-until.js'

/**
 * Signed room tokens end to end: the verifier on its own (tampered, expired, wrong room,
 * algorithm downgrade), a live server refusing bad tokens with 4401/4403 before any
 * document byte, read-only connections that sync and see presence but can change
 * nothing (not even with a crafted sync step 2), the /api/share endpoint, and the CLI.
 */

const SECRET = 'test secret that is comfortably longer than 32 bytes'
const OTHER_SECRET = 'another secret, also longer than thirty-two bytes'
const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const sign = (grant: RoomGrant, ttlSeconds = 3600, secret = SECRET): Promise<string> => signRoomToken(grant, { secret, ttlSeconds })

async function startAuthServer(dataDir?: string): Promise<QuireServerFixture> {
  const server = await startQuireServer({
    ...(dataDir === undefined ? {} : { dataDir }),
    authenticate: createTokenAuthenticator({ secret: SECRET }),
    shareTokens: createShareTokenIssuer({ secret: SECRET })
  })
  cleanups.push(() => server.close())
  return server
}

interface Socket {
  readonly ws: WebSocket
  readonly frames: Uint8Array[]
  readonly messages: Message[]
  readonly closed: Promise<{ code: number; reason: string }>
  readonly opened: Promise<void>
}

/** A bare socket to `room`, with the token in the query string or a header. */
function openSocket(server: QuireServerFixture, room: string, auth: { query?: string; header?: string } = {}): Socket {
  const query = auth.query === undefined ? '' : `?token=${encodeURIComponent(auth.query)}`
  const ws = new WebSocket(`${server.url}/${encodeURIComponent(room)}${query}`, {
    perMessageDeflate: false,
    ...(auth.header === undefined ? {} : { headers: { authorization: `Bearer ${auth.header}` } })
  })
  const frames: Uint8Array[] = []
  const messages: Message[] = []
  ws.on('message', (data: Buffer) => {
    frames.push(new Uint8Array(data))
    const decoded = decodeMessage(new Uint8Array(data))
    if (decoded.ok) messages.push(decoded.message)
  })
  ws.on('error', () => {})
  cleanups.push(() => ws.terminate())
  return {
    ws,
    frames,
    messages,
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    opened: new Promise((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
  }
}

function provider(server: QuireServerFixture, room: string, token: string, doc = new Y.Doc()): WebsocketProvider {
  const p = new WebsocketProvider(server.url, encodeURIComponent(room), doc, {
    disableBc: true,
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    maxBackoffTime: 300,
    params: { token }
  })
  cleanups.push(() => {
    p.destroy()
    doc.destroy()
  })
  return p
}

async function expectRefused(socket: Socket, code: number, reason: RegExp): Promise<void> {
  const closed = await socket.closed
  expect(closed.code).toBe(code)
  expect(closed.reason).toMatch(reason)
  // Refused before any document data (or anything else) was sent.
  expect(socket.frames).toHaveLength(0)
}

function tamper(token: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
  return [header, Buffer.from(JSON.stringify({ ...decoded, ...claims })).toString('base64url'), signature].join('.')
}

describe('room tokens', () => {
  it('round-trip: a signed token verifies to its grant', async () => {
    const token = await sign({ room: 'notes', user: 'ada', access: 'write' })
    const { grant, expiresAt } = await verifyRoomToken(token, SECRET)
    expect(grant).toEqual({ room: 'notes', user: 'ada', access: 'write' })
    expect(expiresAt).toBeGreaterThan(Date.now() / 1000)
  })

  it('refuses tampered, wrongly signed, expired, unsigned and malformed tokens as unauthorized', async () => {
    const token = await sign({ room: 'notes', user: 'ada', access: 'read' })
    const refusals: [string, string, RegExp][] = [
      ['tampered access', tamper(token, { access: 'write' }), /bad signature/],
      ['tampered room', tamper(token, { room: 'secret' }), /bad signature/],
      ['other secret', await sign({ room: 'notes', user: 'ada', access: 'read' }, 3600, OTHER_SECRET), /bad signature/],
      [
        'expired',
        await signRoomToken({ room: 'notes', user: 'ada', access: 'read' }, { secret: SECRET, ttlSeconds: 60, now: () => Math.floor(Date.now() / 1000) - 120 }),
        /expired/
      ],
      ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${token.split('.')[1]}.`, /HS256|well-formed/],
      ['garbage', 'not-a-token', /well-formed/]
    ]
    for (const [what, bad, reason] of refusals) {
      await expect(verifyRoomToken(bad, SECRET), what).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(reason) })
    }
  })

  it('refuses secrets shorter than 32 bytes and tokens without an expiry', async () => {
    await expect(sign({ room: 'r', user: 'u', access: 'read' }, 3600, 'short')).rejects.toMatchObject({ code: 'invalid-options' })
    expect(() => createTokenAuthenticator({ secret: 'short' })).toThrow(/at least 32 bytes/)
    await expect(signRoomToken({ room: 'r', user: 'u', access: 'read' }, { secret: SECRET })).rejects.toMatchObject({ code: 'invalid-options' })
  })
})

describe('token authentication on a live server', () => {
  it('refuses missing, expired, tampered and wrong-room tokens before any data, with 4401/4403 and a reason', async () => {
    const server = await startAuthServer()
    const valid = await sign({ room: 'notes', user: 'ada', access: 'write' })
    const expired = await signRoomToken({ room: 'notes', user: 'ada', access: 'write' }, { secret: SECRET, ttlSeconds: 1, now: () => Math.floor(Date.now() / 1000) - 10 })
    await expectRefused(openSocket(server, 'notes'), 4401, /token is required/)
    await expectRefused(openSocket(server, 'notes', { query: expired }), 4401, /expired/)
    await expectRefused(openSocket(server, 'notes', { query: tamper(valid, { room: 'other' }) }), 4401, /bad signature/)
    await expectRefused(openSocket(server, 'other', { query: valid }), 4403, /not this one/)
    await expectRefused(openSocket(server, 'notes-2', { header: await sign({ roomPrefix: 'team/', user: 'ada', access: 'write' }) }), 4403, /starting with "team\/"/)

    // The same token in the query string or in a header, and a prefix token, are let in.
    for (const socket of [
      openSocket(server, 'notes', { query: valid }),
      openSocket(server, 'notes', { header: valid }),
      openSocket(server, 'team/x', { query: await sign({ roomPrefix: 'team/', user: 'ada', access: 'read' }) })
    ]) {
      await socket.opened
      await waitUntil(() => socket.messages.some((m) => m.type === 'sync-step-1'))
    }
  })

  it('read-only: syncs and sees presence, but its edits are never stored or relayed; told once, stays open', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-auth-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    let server = await startAuthServer(dataDir)
    const room = 'shared/doc'
    const writeToken = await sign({ room, user: 'writer', access: 'write' })
    const readToken = await sign({ room, user: 'reader', access: 'read' })

    const writer = provider(server, room, writeToken)
    writer.doc.getText('t').insert(0, 'written by the writer')
    writer.awareness.setLocalStateField('user', { name: 'writer' })
    const reader = provider(server, room, readToken)
    await waitUntil(() => writer.synced && reader.synced)
    await waitUntil(() => reader.doc.getText('t').toString() === 'written by the writer')
    // Presence flows both ways: the reader sees the writer, the writer sees the reader.
    reader.awareness.setLocalStateField('user', { name: 'reader' })
    await waitUntil(() => [...reader.awareness.getStates().values()].some((s) => (s['user'] as { name?: string } | undefined)?.name === 'writer'))
    await waitUntil(() => [...writer.awareness.getStates().values()].some((s) => (s['user'] as { name?: string } | undefined)?.name === 'reader'))

    // A stock reader's own edit goes nowhere.
    reader.doc.getText('t').insert(0, 'READER EDIT ')

    // A crafted client: the read token, then a sync step 2 and an update carrying new content.
    const crafted = openSocket(server, room, { query: readToken })
    await crafted.opened
    await waitUntil(() => crafted.messages.some((m) => m.type === 'sync-step-1'))
    const forged = new Y.Doc()
    forged.getText('t').insert(0, 'FORGED ')
    forged.getMap('m').set('forged', true)
    crafted.ws.send(encodeMessage({ type: 'sync-step-2', update: Y.encodeStateAsUpdate(forged) }))
    crafted.ws.send(encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(forged) }))
    await waitUntil(() => crafted.messages.some((m) => m.type === 'auth-permission-denied'))
    const denial = crafted.messages.find((m) => m.type === 'auth-permission-denied')
    expect(denial).toMatchObject({ reason: expect.stringMatching(/read-only/) })

    // The writer keeps writing; the reader and the crafted socket, still open, receive it.
    writer.doc.getText('t').insert(writer.doc.getText('t').length, ', and more')
    await waitUntil(() => reader.doc.getText('t').toString().endsWith(', and more'))
    await waitUntil(() => crafted.messages.some((m) => m.type === 'sync-update'))
    expect(crafted.ws.readyState).toBe(WebSocket.OPEN)
    expect(crafted.messages.filter((m) => m.type === 'auth-permission-denied')).toHaveLength(1)
    expect(writer.doc.getText('t').toString()).toBe('written by the writer, and more')
    expect(writer.doc.getMap('m').size).toBe(0)

    // Nothing of it was stored: a fresh server on the same data loads the writer's document only.
    const expected = Y.encodeStateAsUpdate(writer.doc)
    for (const cleanup of cleanups.splice(1).reverse()) await cleanup()
    server = await startAuthServer(dataDir)
    const fresh = provider(server, room, readToken)
    await waitUntil(() => fresh.synced)
    const reference = new Y.Doc()
    Y.applyUpdate(reference, expected)
    await waitUntil(() => findDivergence([reference, fresh.doc]) === null, { describe: () => findDivergence([reference, fresh.doc]) ?? '' })
    expect(fresh.doc.getText('t').toString()).toBe('written by the writer, and more')
    expect(fresh.doc.getMap('m').has('forged')).toBe(false)
  })
})

describe('GET /api/share', () => {
  const share = (server: QuireServerFixture, room: string, bearer?: string, access = 'read'): Promise<Response> =>
    fetch(`${server.httpUrl}/api/share?room=${encodeURIComponent(room)}&access=${access}`, {
      ...(bearer === undefined ? {} : { headers: { authorization: `Bearer ${bearer}` } })
    })

  it('turns a write token into a read-only token for that room, expiring no later', async () => {
    const server = await startAuthServer()
    const write = await sign({ room: 'doc', user: 'ada', access: 'write' }, 600)
    const response = await share(server, 'doc', write)
    expect(response.status).toBe(200)
    const { token } = (await response.json()) as { token: string }
    const shared = await verifyRoomToken(token, SECRET)
    const original = await verifyRoomToken(write, SECRET)
    expect(shared.grant).toEqual({ room: 'doc', user: 'ada', access: 'read' })
    expect(shared.expiresAt).toBeLessThanOrEqual(original.expiresAt)

    // The shared token connects read-only.
    const socket = openSocket(server, 'doc', { query: token })
    await socket.opened
    await waitUntil(() => socket.messages.some((m) => m.type === 'sync-step-1'))
    socket.ws.send(encodeMessage({ type: 'sync-update', update: realUpdate() }))
    await waitUntil(() => socket.messages.some((m) => m.type === 'auth-permission-denied'))

    // A prefix write token shares single rooms under its prefix.
    const prefix = await sign({ roomPrefix: 'team/', user: 'ada', access: 'write' })
    const fromPrefix = await share(server, 'team/plan', prefix)
    expect(fromPrefix.status).toBe(200)
    const prefixShared = await verifyRoomToken(((await fromPrefix.json()) as { token: string }).token, SECRET)
    expect(prefixShared.grant).toEqual({ room: 'team/plan', user: 'ada', access: 'read' })
  })

  it('answers 401 without or with a bad token, 403 for a read token or another room, 400 without a room', async () => {
    const server = await startAuthServer()
    const write = await sign({ room: 'doc', user: 'ada', access: 'write' })
    const read = await sign({ room: 'doc', user: 'ada', access: 'read' })
    const cases: [Promise<Response>, number][] = [
      [share(server, 'doc'), 401],
      [share(server, 'doc', tamper(write, { room: 'x' })), 401],
      [share(server, 'doc', read), 403],
      [share(server, 'elsewhere', write), 403],
      [share(server, 'doc', write, 'write'), 403],
      [fetch(`${server.httpUrl}/api/share?access=read`, { headers: { authorization: `Bearer ${write}` } }), 400]
    ]
    for (const [pending, status] of cases) {
      const response = await pending
      expect(response.status).toBe(status)
      expect(((await response.json()) as { error?: unknown }).error).toEqual(expect.any(String))
    }
  })

  it('answers 404 when the server runs without token authentication', async () => {
    const server = await startQuireServer()
    cleanups.push(() => server.close())
    const response = await share(server, 'doc', 'anything')
    expect(response.status).toBe(404)
  })
})

function realUpdate(): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'from a read-only socket')
  return Y.encodeStateAsUpdate(doc)
}

describe('quire token and quire serve --secret-env', () => {
  const run = promisify(execFile)

  it('quire token prints a token the server accepts for that room and access only', async () => {
    const { stdout } = await run(process.execPath, [QUIRE_BIN, 'token', '--room', 'team/', '--prefix', '--access', 'read', '--ttl', '30m', '--user', 'bob'], {
      env: { ...process.env, QUIRE_SECRET: SECRET }
    })
    const token = stdout.trim()
    expect(token.split('.')).toHaveLength(3)
    const { grant, expiresAt } = await verifyRoomToken(token, SECRET)
    expect(grant).toEqual({ roomPrefix: 'team/', user: 'bob', access: 'read' })
    expect(expiresAt - Date.now() / 1000).toBeLessThanOrEqual(30 * 60)
    expect(expiresAt - Date.now() / 1000).toBeGreaterThan(29 * 60)
  })

  it('quire token and quire serve refuse a missing or short secret with a clear message', async () => {
    const short = run(process.execPath, [QUIRE_BIN, 'token', '--room', 'r', '--access', 'read', '--secret-env', 'MY_SECRET'], {
      env: { ...process.env, MY_SECRET: 'too short' }
    })
    await expect(short).rejects.toMatchObject({ stderr: expect.stringMatching(/MY_SECRET is 9 bytes; it must be at least 32/) })
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-auth-cli-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const env = { ...process.env }
    delete env['QUIRE_SECRET']
    await expect(spawnQuireServer({ dataDir, args: ['--secret-env', 'QUIRE_SECRET'], env })).rejects.toThrow(/QUIRE_SECRET is empty or unset/)
  })

  it('quire serve --secret-env refuses connections without a valid token and says auth is on', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-auth-cli-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const spawned = await spawnQuireServer({ dataDir, args: ['--secret-env', 'ROOM_SECRET'], env: { ROOM_SECRET: SECRET } })
    cleanups.push(() => spawned.kill('SIGTERM'))
    const server = { url: spawned.url, httpUrl: spawned.httpUrl, port: spawned.port, dataDir, close: async () => {} }
    await expectRefused(openSocket(server, 'r'), 4401, /token is required/)
    const socket = openSocket(server, 'r', { query: await sign({ room: 'r', user: 'u', access: 'write' }) })
    await socket.opened
    await waitUntil(() => socket.messages.some((m) => m.type === 'sync-step-1'))
    await waitUntil(() => /token authentication on/.test(spawned.output()))
    expect(spawned.output()).not.toMatch(/open access/)
  })

  it('quire serve --secret-env answers GET /api/share: a token from quire token becomes a read-only link token', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-auth-cli-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const spawned = await spawnQuireServer({ dataDir, args: ['--secret-env', 'ROOM_SECRET'], env: { ROOM_SECRET: SECRET } })
    cleanups.push(() => spawned.kill('SIGTERM'))
    const server = { url: spawned.url, httpUrl: spawned.httpUrl, port: spawned.port, dataDir, close: async () => {} }
    const mint = async (access: 'read' | 'write'): Promise<string> =>
      (await run(process.execPath, [QUIRE_BIN, 'token', '--room', 'team/plan', '--access', access, '--user', 'ada', '--secret-env', 'ROOM_SECRET'], {
        env: { ...process.env, ROOM_SECRET: SECRET }
      })).stdout.trim()
    const share = (bearer?: string, room = 'team/plan'): Promise<Response> =>
      fetch(`${spawned.httpUrl}/api/share?room=${encodeURIComponent(room)}&access=read`, {
        ...(bearer === undefined ? {} : { headers: { authorization: `Bearer ${bearer}` } })
      })

    const write = await mint('write')
    const response = await share(write)
    expect(response.status, await response.clone().text()).toBe(200)
    const { token } = (await response.json()) as { token: string }
    expect((await verifyRoomToken(token, SECRET)).grant).toEqual({ room: 'team/plan', user: 'ada', access: 'read' })

    // The shared token opens the room read-only on this server.
    const socket = openSocket(server, 'team/plan', { query: token })
    await socket.opened
    await waitUntil(() => socket.messages.some((m) => m.type === 'sync-step-1'))
    socket.ws.send(encodeMessage({ type: 'sync-update', update: realUpdate() }))
    await waitUntil(() => socket.messages.some((m) => m.type === 'auth-permission-denied'))

    // And the endpoint refuses what it must.
    expect((await share()).status).toBe(401)
    expect((await share(await mint('read'))).status).toBe(403)
    expect((await share(write, 'team/other')).status).toBe(403)
  })

  it('quire serve without --secret-env answers 404 at /api/share', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-auth-cli-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const spawned = await spawnQuireServer({ dataDir })
    cleanups.push(() => spawned.kill('SIGTERM'))
    expect((await fetch(`${spawned.httpUrl}/api/share?room=r&access=read`, { headers: { authorization: 'Bearer x' } })).status).toBe(404)
  })

  it('quire serve without a secret says it is open', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-auth-cli-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const spawned = await spawnQuireServer({ dataDir })
    cleanups.push(() => spawned.kill('SIGTERM'))
    await waitUntil(() => /open access/.test(spawned.output()) && /any origin/.test(spawned.output()))
  })
})
