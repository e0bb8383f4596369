import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { openSession, readFromServer, waitFor } from './client-fixture.js'

let server: QuireServerFixture | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

describe('@quire/client room names', () => {
  // A URL path of "." or ".." (even %2e) is a directory step to every WHATWG URL parser,
  // so these names only survive because the client also sends the `room` parameter.
  it('keeps "", "." and ".." apart, and names with slashes, query and fragment characters', async () => {
    server = await startQuireServer()
    const names = ['', '.', '..', 'a/../b', 'q?x=1#frag', '100%']
    for (const room of names) {
      const doc = new Y.Doc()
      const session = openSession({ url: server.url, room, doc, offline: false })
      await session.whenSynced
      doc.getMap('m').set('room', room)
      await waitFor(`"${room}" saved`, () => session.saved === true)
      await session.destroy()
    }
    for (const room of names) {
      const doc = await readFromServer(server.url, room)
      expect(doc.getMap('m').toJSON(), JSON.stringify(room)).toEqual({ room })
    }
  })
})
