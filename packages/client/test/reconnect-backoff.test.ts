import { afterEach, describe, expect, it } from 'vitest'
import { createFullJitterBackoff } from '@quire/client'
import { createPrng, startQuireServer } from '@quire/testkit'
import { startTcpProxy } from './tcp-proxy.js'
import { expectUnchangedFor, openSession, uniqueName, waitFor } from './client-fixture.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('createFullJitterBackoff', () => {
  it('draws uniformly below an exponentially growing, capped window', () => {
    const policy = createFullJitterBackoff({ baseMs: 100, maxMs: 1000, random: () => 0.999 })
    expect([0, 1, 2, 3, 4, 10, 1000].map(policy)).toEqual([99, 199, 399, 799, 999, 999, 999])
    expect(createFullJitterBackoff({ random: () => 0 })(5)).toBe(0)
  })

  it('spreads the first retries of many clients over the whole window (no lockstep after a server restart)', () => {
    const prng = createPrng(7)
    const policy = createFullJitterBackoff({ baseMs: 1000, maxMs: 1000, random: prng.next })
    const delays = Array.from({ length: 1000 }, () => policy(0))
    const buckets = new Array<number>(10).fill(0)
    for (const delay of delays) buckets[Math.floor(delay / 100)]! += 1
    // Each tenth of the window gets roughly a tenth of the clients.
    for (const bucket of buckets) expect(bucket).toBeGreaterThan(60)
  })
})

describe('reconnect policy of a session', () => {
  it('uses the injected policy with a growing attempt number, and starts over after a sync', async () => {
    const fixture = await startQuireServer()
    cleanups.push(() => fixture.close())
    const net = await startTcpProxy(fixture)
    cleanups.push(() => net.close())
    const attempts: number[] = []
    const session = openSession({
      url: net.url,
      room: uniqueName('doc'),
      offline: false,
      backoff: (attempt) => {
        attempts.push(attempt)
        return 5
      }
    })
    cleanups.push(() => session.destroy())
    await session.whenSynced
    net.setRefusing(true)
    net.dropAll()
    await waitFor('four refused attempts', () => attempts.length >= 4)
    net.setRefusing(false)
    // An acknowledgement only comes after the server answered our sync step 1: the sync is done.
    session.doc.getText('t').insert(0, 'x')
    await waitFor('synced again', () => session.saved === true)
    const beforeSecondDrop = attempts.length
    expect(attempts.slice(0, 4)).toEqual([0, 1, 2, 3])
    net.dropAll()
    await waitFor('retry after the second drop', () => attempts.length > beforeSecondDrop)
    expect(attempts[beforeSecondDrop]).toBe(0)
  })

  it('disconnect() stops retrying: no connection attempt follows, whether it was connected or waiting to retry', async () => {
    const fixture = await startQuireServer()
    cleanups.push(() => fixture.close())
    const net = await startTcpProxy(fixture)
    cleanups.push(() => net.close())
    const BACKOFF_MS = 20
    const session = openSession({ url: net.url, room: uniqueName('doc'), offline: false, backoff: () => BACKOFF_MS })
    cleanups.push(() => session.destroy())
    await session.whenSynced

    // Connected, then disconnect(): over 25 backoff delays, no attempt.
    session.disconnect()
    expect(session.status).toBe('disconnected')
    await waitFor('the proxy to see the socket close', () => net.openConnections === 0)
    await expectUnchangedFor('connection attempts after disconnect() while connected', () => net.connectionAttempts, 25 * BACKOFF_MS)
    expect(session.status).toBe('disconnected')

    // Retrying against a refusing network, then disconnect(): the pending retry is dropped.
    session.reconnect()
    await waitFor('connected again', () => session.status === 'connected')
    net.setRefusing(true)
    const beforeDrop = net.connectionAttempts
    net.dropAll()
    await waitFor('a few refused retries', () => net.connectionAttempts >= beforeDrop + 3)
    // disconnect() as the next retry arrives: no other attempt is on its way then.
    await new Promise<void>((resolve) =>
      net.onNextAttempt(() => {
        session.disconnect()
        resolve()
      })
    )
    await expectUnchangedFor('connection attempts after disconnect() while retrying', () => net.connectionAttempts, 25 * BACKOFF_MS)
    expect(session.status).toBe('disconnected')
  })

  it('reconnect() after disconnect() connects at once, skipping a long backoff wait', async () => {
    const fixture = await startQuireServer()
    cleanups.push(() => fixture.close())
    const session = openSession({ url: fixture.url, room: uniqueName('doc'), offline: false, backoff: () => 60_000 })
    cleanups.push(() => session.destroy())
    await session.whenSynced
    session.disconnect()
    expect(session.status).toBe('disconnected')
    session.doc.getText('t').insert(0, 'while disconnected')
    expect(session.saved).toBe(false)
    session.reconnect()
    await waitFor('saved after reconnect()', () => session.saved === true)
    expect(session.status).toBe('connected')
  })
})
