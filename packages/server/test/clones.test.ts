import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { docFromUpdates, readSeeds, runWithSeed, withRedis, type Prng, type SpawnedQuireServer } from '@quire/testkit'
import { converge, joinClone, loadStored, recordLocalUpdates, startCluster, storedMatches, type Cleanups } from './clone-cluster.js'
import { describeLostAcknowledged, describeUnsaved, foldSaved } from './saved-state.js'
import { dropConnection, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Several `quire serve` clones (child processes) on one PostgreSQL schema and one Redis
 * key prefix of the test's own, with stock y-websocket clients spread over them: what a
 * deployment behind a load balancer that does not keep a document on one clone looks
 * like. Correctness must not depend on the routing.
 */

const cleanups: Cleanups = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const join = (clone: SpawnedQuireServer, room: string, options: { doc?: Y.Doc; quire?: boolean } = {}): StockClient => joinClone(clone, room, cleanups, options)

/** The document every client's own edits make together: what all replicas must end as. */
function referenceOf(localUpdates: readonly Uint8Array[]): Y.Doc {
  return docFromUpdates(localUpdates)
}

/** `count` synced clients of `room` dealt over `clones` in turn (client ids from `firstId`), their own edits recorded in `local`. */
async function dealClients(clones: readonly SpawnedQuireServer[], room: string, count: number, firstId: number, local: Uint8Array[]): Promise<StockClient[]> {
  const clients = Array.from({ length: count }, (_, i) => {
    const doc = new Y.Doc()
    doc.clientID = firstId + i
    const client = join(clones[i % clones.length] as SpawnedQuireServer, room, { doc })
    recordLocalUpdates(client, local)
    return client
  })
  await Promise.all(clients.map((client) => client.synced()))
  return clients
}

describe('quire serve clones on PostgreSQL and Redis', () => {
  it.each(readSeeds([7, 8]))('clients spread over three clones converge on one room, and so does the store (seed %i)', (seed) =>
    runWithSeed('clones converge', seed, async (prng: Prng) => {
      const { clones, schema } = await startCluster(3, cleanups)
      const room = 'spread'
      const local: Uint8Array[] = []
      // Round-robin, as a balancer without affinity would place them.
      const clients = await dealClients(clones, room, 6, 100, local)
      for (let step = 0; step < 150; step++) {
        const client = prng.pick(clients)
        const text = client.doc.getText('t')
        const action = prng.int(0, 9)
        if (action < 6 || text.length < 5) text.insert(prng.int(0, text.length), prng.string(prng.int(1, 4)))
        else if (action < 8) text.delete(prng.int(0, text.length - 2), prng.int(1, 2))
        else client.doc.getMap('m').set(`k${prng.int(0, 4)}`, step)
        if (prng.bool(0.3)) await new Promise((resolve) => setTimeout(resolve, prng.int(0, 5)))
      }
      const reference = referenceOf(local)
      await converge([reference, ...clients.map((client) => client.doc)])
      // A newcomer on every clone gets the whole document, and the store holds it.
      const newcomers = clones.map((clone) => join(clone, room))
      await Promise.all(newcomers.map((client) => client.synced()))
      await converge([reference, ...newcomers.map((client) => client.doc)])
      await storedMatches(schema, room, reference)
    }),
    60_000
  )

  it.each(readSeeds([11, 12]))('clients that come and go, so that each clone closes and reopens the room, converge without a last reconnect (seed %i)', (seed) =>
    runWithSeed('clones reopen rooms', seed, async (prng: Prng) => {
      const { clones, schema, redis } = await startCluster(2, cleanups)
      const room = 'churn'
      const local: Uint8Array[] = []
      // Two on each clone: when both of a clone's leave, it closes the room (after its
      // commit), and opening it again runs the exchange with the other clone anew.
      const clients = await dealClients(clones, room, 4, 200, local)
      for (let step = 0; step < 120; step++) {
        const client = prng.pick(clients)
        const action = prng.int(0, 9)
        if (action < 7) {
          const text = client.doc.getText('t')
          text.insert(prng.int(0, text.length), prng.string(prng.int(1, 3)))
        } else if (client.provider.wsconnected) {
          client.provider.disconnect()
        } else {
          client.provider.connect()
        }
        await new Promise((resolve) => setTimeout(resolve, prng.int(0, 40)))
      }
      // Everyone back: from here on, only the relay between the clones (and each
      // reconnect's own sync) can bring them together.
      for (const client of clients) if (!client.provider.wsconnected) client.provider.connect()
      await Promise.all(clients.map((client) => client.synced()))
      // Edits after the last reconnect reach the other clone's clients only through the relay.
      for (const client of clients) client.doc.getText('t').insert(0, `${client.doc.clientID} `)
      const reference = referenceOf(local)
      await converge([reference, ...clients.map((client) => client.doc)])
      await storedMatches(schema, room, reference)
      // The room did close and reopen on the clones (an `open` mark each time).
      const marks = (await withRedis((r) => r.xrange(`${redis.prefix}rooms`, '-', '+'))) as [string, string[]][]
      expect(marks.filter(([, fields]) => fields[5] === 'open').length).toBeGreaterThan(4)
    }),
    60_000
  )

  it('relays between clones at once, and never echoes a clone its own updates', async () => {
    const { clones } = await startCluster(2, cleanups)
    const [a, b] = clones as [SpawnedQuireServer, SpawnedQuireServer]
    const writer = join(a, 'echo')
    const reader = join(b, 'echo')
    await Promise.all([writer.synced(), reader.synced()])
    let writerUpdates = 0
    writer.doc.on('update', (_update: Uint8Array, origin: unknown) => {
      if (origin === writer.provider) writerUpdates++
    })
    for (let i = 0; i < 20; i++) writer.doc.getText('t').insert(0, `${i} `)
    await converge([writer.doc, reader.doc])
    // Give a stray echo time to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(writerUpdates).toBe(0)
  })

  it('a clone killed with -9 loses nothing it acknowledged; its clients move to another clone and converge', async () => {
    // A short heartbeat: what the dead clone committed but never published reaches the
    // watcher's clone only once that clone sees the heartbeat is gone.
    const { clones, schema } = await startCluster(3, cleanups, ['--clone-heartbeat-ms', '500'])
    const [doomed, other, third] = clones as [SpawnedQuireServer, SpawnedQuireServer, SpawnedQuireServer]
    const room = 'failover'
    const writer = join(doomed, room, { quire: true })
    const watcher = join(third, room)
    await Promise.all([writer.synced(), watcher.synced()])
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 30; i++) writer.doc.getText('t').insert(writer.doc.getText('t').length, `r${round}:${i} `)
      await waitUntil(() => describeUnsaved(writer.doc, foldSaved(writer.quireMessages)) === null, {
        describe: () => describeUnsaved(writer.doc, foldSaved(writer.quireMessages)) ?? ''
      })
    }
    const acknowledged = foldSaved(writer.quireMessages)
    // More edits in flight when the clone dies.
    for (let i = 0; i < 30; i++) writer.doc.getText('t').insert(0, `late${i} `)
    await doomed.kill('SIGKILL')
    writer.provider.disconnect()
    expect(describeLostAcknowledged(await loadStored(schema, room), acknowledged)).toBeNull()
    // What a balancer does for it: the same client, on a clone that is alive.
    const moved = join(other, room, { doc: writer.doc, quire: true })
    await moved.synced()
    await converge([writer.doc, watcher.doc])
    await waitUntil(() => describeUnsaved(writer.doc, foldSaved(moved.quireMessages)) === null, {
      describe: () => describeUnsaved(writer.doc, foldSaved(moved.quireMessages)) ?? ''
    })
    await storedMatches(schema, room, writer.doc)
  })

  it('presence crosses clones, and leaves with a client whose connection drops', async () => {
    const { clones } = await startCluster(2, cleanups)
    const [a, b] = clones as [SpawnedQuireServer, SpawnedQuireServer]
    const here = join(a, 'presence')
    const there = join(b, 'presence')
    await Promise.all([here.synced(), there.synced()])
    here.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    const seenThere = (): boolean => there.provider.awareness.getStates().get(here.doc.clientID)?.['user']?.name === 'Ada'
    await waitUntil(seenThere, { describe: () => JSON.stringify([...there.provider.awareness.getStates()]) })
    // Its network vanishes: no goodbye from the client, so the clone it was on must tell the others.
    dropConnection(here)
    await waitUntil(() => !there.provider.awareness.getStates().has(here.doc.clientID), { timeoutMs: 10_000 })
  })

  it('a clone that opens a room another clone has to itself shows its clients the presence there at once', async () => {
    const { clones } = await startCluster(2, cleanups)
    const [a, b] = clones as [SpawnedQuireServer, SpawnedQuireServer]
    const first = join(a, 'presence before')
    await first.synced()
    // Set while no other clone has the room open: clone a publishes nothing for it then.
    first.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const later = join(b, 'presence before')
    await later.synced()
    // Well before y-protocols renews a state (every 15 s).
    await waitUntil(() => later.provider.awareness.getStates().get(first.doc.clientID)?.['user']?.name === 'Ada', {
      timeoutMs: 5000,
      describe: () => JSON.stringify([...later.provider.awareness.getStates()])
    })
  })

  it('presence of the clients of a clone killed with -9 leaves the other clones within 30 s', async () => {
    const { clones } = await startCluster(2, cleanups)
    const [doomed, survivor] = clones as [SpawnedQuireServer, SpawnedQuireServer]
    const gone = join(doomed, 'presence after a crash')
    const staying = join(survivor, 'presence after a crash')
    await Promise.all([gone.synced(), staying.synced()])
    gone.provider.awareness.setLocalStateField('user', { name: 'Grace' })
    await waitUntil(() => staying.provider.awareness.getStates().has(gone.doc.clientID))
    gone.provider.shouldConnect = false
    await doomed.kill('SIGKILL')
    const killedAt = Date.now()
    // y-protocols itself drops a state not renewed for 30 s; the clone must be faster than that.
    await waitUntil(() => !staying.provider.awareness.getStates().has(gone.doc.clientID), { timeoutMs: 30_000 })
    expect(Date.now() - killedAt).toBeLessThan(25_000)
  })
})
