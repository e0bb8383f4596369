import { describe, expect, it } from 'vitest'
import { createTokenAuthenticator, signRoomToken } from '@quire/server'
import type { QuireServerFixture } from '@quire/testkit'
import type { QuireClientError } from '@quire/client'
import { expectUnchangedFor, uniqueName, waitFor } from './client-fixture.js'
import { disposeAfterEachTest } from './test-resources.js'

/**
 * A page stays open longer than its token lives. With `token` as a function the session
 * asks for a fresh token before every connection attempt; when the server ends an
 * accepted connection because its token expired (4401), the session gets a new token and
 * reconnects at once, losing nothing. A fresh token that is refused stays final.
 */
const SECRET = 'a-secret-of-at-least-thirty-two-bytes-for-tests'

const { server, proxy, session } = disposeAfterEachTest()

async function serverWithRoomTokens(): Promise<QuireServerFixture> {
  return server({ authenticate: createTokenAuthenticator({ secret: SECRET }) })
}

describe('@quire/client with a token function', () => {
  it('stays connected across several expiries of a 5-second token and loses no edit', async () => {
    const fixture = await serverWithRoomTokens()
    const room = uniqueName('doc')
    let tokensIssued = 0
    const editor = session({
      url: fixture.url,
      room,
      token: async () => {
        tokensIssued++
        return signRoomToken({ room, user: 'ada', access: 'write' }, { secret: SECRET, ttlSeconds: 5 })
      }
    })
    const closed: number[] = []
    editor.on('closed', ({ code }) => closed.push(code))
    await editor.whenSynced
    const text = editor.doc.getText('t')
    // Types through at least two expiries (a token lives 4-5 s: exp has whole seconds).
    const until = Date.now() + 11_000
    let typed = 0
    while (Date.now() < until) {
      text.insert(text.length, String.fromCharCode(97 + (typed++ % 26)))
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    expect(tokensIssued).toBeGreaterThanOrEqual(3)
    expect(closed).toEqual([])
    await waitFor('everything typed is saved', () => editor.saved === true && editor.status === 'connected')
    // What a fresh reader (with a token of its own) finds on the server.
    const reader = session({
      url: fixture.url,
      room,
      offline: false,
      token: () => signRoomToken({ room, user: 'reader', access: 'read' }, { secret: SECRET, ttlSeconds: 60 })
    })
    await reader.whenSynced
    expect(reader.doc.getText('t').toString()).toBe(text.toString())
    expect(text.length).toBe(typed)
  }, 30_000)

  it('a fresh token that the server refuses is final: `closed`, no further attempts', async () => {
    const fixture = await serverWithRoomTokens()
    const net = await proxy(fixture)
    const room = uniqueName('doc')
    const issued: string[] = []
    const editor = session({
      url: net.url,
      room,
      offline: false,
      backoff: () => 20,
      token: async () => {
        // The first token lives a second or two; the next one is signed with another
        // secret, so it is refused with the same code (4401) as an expiry, but before
        // the connection is accepted.
        const first = issued.length === 0
        issued.push(first ? 'valid' : 'forged')
        return signRoomToken({ room, user: 'ada', access: 'write' }, { secret: first ? SECRET : `${SECRET}-forged`, ttlSeconds: first ? 1 : 60 })
      }
    })
    const closed = new Promise<{ code: number; reason: string }>((resolve) => editor.on('closed', resolve))
    await editor.whenSynced
    expect(await closed).toEqual({ code: 4401, reason: 'invalid token: bad signature' })
    expect(issued).toEqual(['valid', 'forged'])
    expect(editor.status).toBe('disconnected')
    await expectUnchangedFor('connection attempts after the refusal', () => net.connectionAttempts, 500)
    expect(issued).toHaveLength(2)
  })

  it('a token function that fails is reported and retried with backoff', async () => {
    const fixture = await serverWithRoomTokens()
    const room = uniqueName('doc')
    let calls = 0
    const errors: QuireClientError[] = []
    const editor = session({
      url: fixture.url,
      room,
      offline: false,
      backoff: () => 20,
      token: () => {
        calls++
        if (calls <= 2) throw new Error('auth backend unreachable')
        return signRoomToken({ room, user: 'ada', access: 'write' }, { secret: SECRET, ttlSeconds: 60 })
      }
    })
    editor.on('error', (error) => errors.push(error))
    await editor.whenSynced
    expect(calls).toBe(3)
    expect(errors.map((error) => [error.code, error.message])).toEqual([
      ['token', 'auth backend unreachable'],
      ['token', 'auth backend unreachable']
    ])
  })
})
