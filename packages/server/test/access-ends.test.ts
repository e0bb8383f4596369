import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, createTokenAuthenticator, signRoomToken, type QuireServer, type ServerOptions } from '@quire/server'
import { openRawClient, type RawClient } from './raw-client.js'

/**
 * Access granted at connection time ends with the token, on revocation, or when the
 * grant's own check says so: the connection is closed with 4401 (expired: the client may
 * come back with a fresh token) or 4403 (revoked: final).
 */
const SECRET = 'a-secret-of-at-least-thirty-two-bytes-for-tests'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A server on 127.0.0.1 with LevelDB in a temp dir; `server` for revoke(). */
async function start(options: ServerOptions): Promise<{ url: string; server: QuireServer }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'quire-access-'))
  const server = createServer({ ...options, dataDir })
  const { url } = await server.listen(0, '127.0.0.1')
  cleanups.push(async () => {
    await server.close()
    await rm(dataDir, { recursive: true, force: true })
  })
  return { url: url.replace(/^http/, 'ws'), server }
}

async function joined(client: RawClient): Promise<RawClient> {
  cleanups.push(async () => client.close())
  await client.waitForMessage((message) => message.type === 'sync-step-1')
  return client
}

describe('access that ends while connected', () => {
  it('a connection is closed with 4401 "token expired" when its room token expires, not before', async () => {
    const server = await start({ authenticate: createTokenAuthenticator({ secret: SECRET }) })
    const shortToken = await signRoomToken({ room: 'doc', user: 'ada', access: 'write' }, { secret: SECRET, ttlSeconds: 2 })
    const longToken = await signRoomToken({ room: 'doc', user: 'bob', access: 'write' }, { secret: SECRET, ttlSeconds: 3600 })
    const short = await joined(await openRawClient(server.url, 'doc', { token: shortToken }))
    const long = await joined(await openRawClient(server.url, 'doc', { token: longToken }))
    const opened = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(short.socket.readyState).toBe(short.socket.OPEN)
    expect(await short.closed).toEqual({ code: 4401, reason: 'token expired' })
    // exp has one-second resolution: the close comes at exp, at most 2 s after opening.
    expect(Date.now() - opened).toBeLessThanOrEqual(2500)
    expect(long.socket.readyState).toBe(long.socket.OPEN)
  })

  it('revoke(filter) closes exactly the connections it picks with 4403 and says how many', async () => {
    const server = await start({
      authenticate: ({ token }) => ({ user: token ?? 'nobody', access: token === 'reader' ? 'read' : 'write' })
    })
    const ada = await joined(await openRawClient(server.url, 'team/plan', { token: 'ada' }))
    const adaElsewhere = await joined(await openRawClient(server.url, 'team/other', { token: 'ada' }))
    const bob = await joined(await openRawClient(server.url, 'team/plan', { token: 'bob' }))
    expect(server.server.revoke((grant) => grant.user === 'ada' && grant.room === 'team/plan', 'removed from the document')).toBe(1)
    expect(await ada.closed).toEqual({ code: 4403, reason: 'removed from the document' })
    expect(adaElsewhere.socket.readyState).toBe(adaElsewhere.socket.OPEN)
    expect(bob.socket.readyState).toBe(bob.socket.OPEN)
    expect(server.server.revoke((grant) => grant.access === 'write')).toBe(2)
    expect((await bob.closed).code).toBe(4403)
    expect((await adaElsewhere.closed).code).toBe(4403)
    expect(server.server.revoke(() => true)).toBe(0)
  })

  it("a grant's checkAccess is asked again while connected; false closes with 4403", async () => {
    const suspended = new Set<string>()
    let checks = 0
    const server = await start({
      accessCheckMs: 50,
      authenticate: ({ token }) => ({
        user: token ?? 'nobody',
        access: 'write',
        checkAccess: () => {
          checks++
          return !suspended.has(token ?? '')
        }
      })
    })
    const ada = await joined(await openRawClient(server.url, 'doc', { token: 'ada' }))
    const bob = await joined(await openRawClient(server.url, 'doc', { token: 'bob' }))
    const before = checks
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(checks).toBeGreaterThan(before)
    expect(ada.socket.readyState).toBe(ada.socket.OPEN)
    suspended.add('ada')
    expect(await ada.closed).toEqual({ code: 4403, reason: 'access revoked' })
    expect(bob.socket.readyState).toBe(bob.socket.OPEN)
  })

  it('stops its timers on close: a server with an open long-lived grant closes at once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'quire-access-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const quire = createServer({
      dataDir,
      accessCheckMs: 10,
      authenticate: () => ({ user: 'u', access: 'write', expiresAt: Date.now() + 3_600_000, checkAccess: () => true })
    })
    const { url } = await quire.listen(0, '127.0.0.1')
    const client = await joined(await openRawClient(url.replace(/^http/, 'ws'), 'doc'))
    await quire.close()
    expect((await client.closed).code).toBe(1012)
  })
})
