import { afterEach, describe, expect, it } from 'vitest'
import { startQuireServer, type QuireServerFixture } from '@quire/testkit'
import type { QuireSession } from '@quire/client'
import { expectUnchangedFor, openSession, uniqueName, waitFor } from './client-fixture.js'
import { startTcpProxy } from './tcp-proxy.js'

/** A short fixed backoff, so that a retry, if any, would come many times within the window watched. */
const BACKOFF_MS = 20

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A server whose tokens are "writer", "reader", anything else is refused. */
async function serverWithTokens(): Promise<QuireServerFixture> {
  const fixture = await startQuireServer({
    authenticate: async ({ token }) => {
      if (token === 'writer') return { user: 'w', access: 'write' }
      if (token === 'reader') return { user: 'r', access: 'read' }
      throw new Error('unknown token')
    }
  })
  cleanups.push(() => fixture.close())
  return fixture
}

function session(options: Parameters<typeof openSession>[0]): QuireSession {
  const s = openSession(options)
  cleanups.push(() => s.destroy())
  return s
}

describe('@quire/client access control', () => {
  it('reports a refusal (close code 4401/4403) and stops retrying', async () => {
    const fixture = await serverWithTokens()
    const net = await startTcpProxy(fixture)
    cleanups.push(() => net.close())
    const room = uniqueName('doc')
    const backoffCalls: number[] = []
    const refused = session({
      url: net.url,
      room,
      token: 'bad',
      offline: false,
      backoff: (attempt) => {
        backoffCalls.push(attempt)
        return BACKOFF_MS
      }
    })
    const event = await new Promise<{ code: number }>((resolve) => refused.on('closed', resolve))
    expect([4401, 4403]).toContain(event.code)
    expect(refused.status).toBe('disconnected')
    expect(net.connectionAttempts).toBe(1)
    // Over 25 backoff delays, not one more attempt (and no retry was even scheduled).
    await expectUnchangedFor('connection attempts after a refusal', () => net.connectionAttempts, 25 * BACKOFF_MS)
    expect(backoffCalls).toEqual([])
    expect(refused.status).toBe('disconnected')
    const allowed = session({ url: fixture.url, room, token: 'writer', offline: false })
    await allowed.whenSynced
    expect(allowed.status).toBe('connected')
  })

  it('a read-only session sees edits, is told its own are refused, and never reports them saved', async () => {
    const fixture = await serverWithTokens()
    const room = uniqueName('doc')
    const writer = session({ url: fixture.url, room, token: 'writer', offline: false })
    const reader = session({ url: fixture.url, room, token: 'reader', offline: false })
    const denied = new Promise<string>((resolve) => reader.on('permission-denied', resolve))
    await Promise.all([writer.whenSynced, reader.whenSynced])
    writer.doc.getText('t').insert(0, 'from the writer')
    await waitFor('reader sees the edit', () => reader.doc.getText('t').toString() === 'from the writer')
    reader.doc.getText('t').insert(0, 'reader tries: ')
    expect(await denied).toMatch(/read-only/)
    expect(reader.saved).toBe(false)
    expect(writer.doc.getText('t').toString()).toBe('from the writer')
    await waitFor('writer saved', () => writer.saved === true)
  })
})
