import { afterEach, describe, expect, it } from 'vitest'
import { startQuireServer } from '@quire/testkit'
import type { ConnectionStatus } from '@quire/client'
import { openSession, uniqueName, waitFor } from './client-fixture.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('@quire/client idle connection', () => {
  // y-websocket closes a socket that received nothing for 30 s and counts on the server
  // echoing the client's own awareness renewals (every 15 s) to keep an idle connection
  // alive, as the reference server does. A lone, idle user must not see the status flip.
  it('a lone idle session stays connected past y-websocket’s 30 s silence watchdog', async () => {
    const fixture = await startQuireServer()
    cleanups.push(() => fixture.close())
    const session = openSession({ url: fixture.url, room: uniqueName('idle'), offline: false })
    cleanups.push(() => session.destroy())
    await session.whenSynced
    const statuses: ConnectionStatus[] = []
    session.on('status', (status) => statuses.push(status))
    let renewals = 0
    session.awareness.on('update', ({ updated }: { updated: number[] }) => {
      if (updated.includes(session.doc.clientID)) renewals++
    })
    // Three renewals of our own presence: 45 s or more, well past the 30 s watchdog.
    await waitFor('three awareness renewals', () => renewals >= 3, 80_000)
    expect(statuses).toEqual([])
    expect(session.status).toBe('connected')
  }, 90_000)
})
