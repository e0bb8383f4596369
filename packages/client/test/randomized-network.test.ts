import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { IndexeddbPersistence } from 'y-indexeddb'
import { createFullJitterBackoff, type QuireClientError, type QuireSession } from '@quire/client'
import {
  assertConverged,
  createPrng,
  findDivergence,
  isExtensiveRun,
  readSeeds,
  runWithSeed,
  spawnQuireServer,
  type Prng,
  type SpawnedQuireServer
} from '@quire/testkit'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'
import { openSession, readFromServer, uniqueName, waitFor } from './client-fixture.js'
import { holdsUpdate, readStoredDocument, recordLocalUpdates } from './stored-document.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const isRemote = (origin: unknown): boolean =>
  origin instanceof IndexeddbPersistence || (typeof origin === 'object' && origin !== null && 'ws' in origin)

interface SimulatedBrowser {
  readonly name: string
  readonly session: QuireSession
  readonly proxy: TcpProxy
  /** Step until which the network refuses this browser; -1 when it is up. */
  refusedUntil: number
  /** What each `saved: true` promised: the merge of the user's own updates at that moment. */
  readonly promises: Uint8Array[]
  readonly errors: QuireClientError[]
  /** The merge of every update this browser's user made so far. */
  readonly ownUpdates: () => Uint8Array
}

/**
 * One random edit. It always draws the same number of values, whatever the document
 * holds (which depends on network timing), so a seed always yields the same sequence of
 * choices; positions are fractions of the current length.
 */
function edit(prng: Prng, browser: SimulatedBrowser): void {
  const doc = browser.session.doc
  const text = doc.getText('t')
  const roll = prng.next()
  const where = prng.next()
  const size = prng.int(1, 6)
  const inserted = prng.string(size)
  const key = `k${prng.int(0, 3)}`
  const value = prng.int(0, 1000)
  if (roll < 0.55 || text.length === 0) text.insert(Math.floor(where * (text.length + 1)), inserted)
  else if (roll < 0.85) {
    const at = Math.floor(where * text.length)
    text.delete(at, Math.min(size, 4, text.length - at))
  } else doc.getMap('m').set(key, value)
}

const STEPS = isExtensiveRun() ? 600 : 120

async function runScenario(prng: Prng): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'quire-client-random-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  let server: SpawnedQuireServer = await spawnQuireServer({ dataDir })
  cleanups.push(() => server.kill())
  const port = server.port
  const room = uniqueName('random')
  const browsers: SimulatedBrowser[] = []
  const count = prng.int(3, 5)
  for (let i = 0; i < count; i++) {
    const proxy = await startTcpProxy({ port })
    cleanups.push(() => proxy.close())
    // Each browser's backoff draws from its own PRNG so the edit sequence stays a function of the seed.
    const session = openSession({
      url: proxy.url,
      room,
      databaseName: uniqueName(`browser-${i}`),
      backoff: createFullJitterBackoff({ baseMs: 10, maxMs: 150, random: createPrng(prng.seed * 7919 + i).next })
    })
    cleanups.push(() => session.destroy())
    const ownUpdates = recordLocalUpdates(session.doc, isRemote)
    const browser: SimulatedBrowser = { name: `browser-${i}`, session, proxy, refusedUntil: -1, promises: [], errors: [], ownUpdates }
    session.on('saved', (saved) => {
      if (saved === true) browser.promises.push(ownUpdates())
    })
    session.on('error', (error) => browser.errors.push(error))
    browsers.push(browser)
  }

  const checkPromisesKept = async (when: string): Promise<void> => {
    const stored = await readStoredDocument(dataDir, room)
    for (const browser of browsers) {
      browser.promises.forEach((promised, i) => {
        if (!holdsUpdate(stored, promised)) throw new Error(`${when}: ${browser.name} reported saved (#${i}) for changes the storage does not hold`)
      })
    }
  }

  let crashes = 0
  let drops = 0
  let edits = 0
  for (let step = 0; step < STEPS; step++) {
    const roll = prng.next()
    if (roll < 0.7) {
      edit(prng, prng.pick(browsers))
      edits++
    }
    else if (roll < 0.85) {
      // The network of one browser goes away: sockets cut from the server side, reconnects refused for a while.
      const browser = prng.pick(browsers)
      browser.proxy.setRefusing(true)
      browser.proxy.dropAll()
      browser.refusedUntil = step + prng.int(2, 15)
      drops++
    } else if (roll < 0.88 && crashes < 2) {
      crashes++
      await server.kill('SIGKILL')
      await checkPromisesKept(`after kill -9 at step ${step}`)
      server = await spawnQuireServer({ dataDir, port })
    }
    for (const browser of browsers) {
      if (browser.refusedUntil !== -1 && browser.refusedUntil <= step) {
        browser.proxy.setRefusing(false)
        browser.refusedUntil = -1
      }
    }
    await new Promise((resolve) => setTimeout(resolve, prng.int(0, 20)))
  }

  for (const browser of browsers) browser.proxy.setRefusing(false)
  const docs = browsers.map((b) => b.session.doc)
  const names = browsers.map((b) => b.name)
  await waitFor(
    'every browser saved and converged',
    () => browsers.every((b) => b.session.saved === true) && findDivergence(docs, { names }) === null,
    45_000
  ).catch(async (error: unknown) => {
    // Say whether an unsaved browser's changes are on the server at all: if they are, the
    // server holds them but never acknowledged them to this browser.
    const onServer = await readFromServer(`ws://127.0.0.1:${port}`, room)
    const states = browsers
      .map((b) => `${b.name}: status=${b.session.status} saved=${String(b.session.saved)} server holds its changes=${holdsUpdate(onServer, b.ownUpdates())}`)
      .join('; ')
    throw new Error(`${String(error)} (${states}; ${findDivergence(docs, { names }) ?? 'converged'})`)
  })
  assertConverged(docs, { names })
  await server.kill('SIGKILL')
  await checkPromisesKept('at the end')
  const stored = await readStoredDocument(dataDir, room)
  assertConverged([stored, ...docs], { names: ['storage', ...names] })
  for (const browser of browsers) expect(browser.errors).toEqual([])
  const promised = browsers.reduce((n, b) => n + b.promises.length, 0)
  console.log(`seed ${prng.seed}: ${count} browsers, ${edits} edits, ${drops} drops, ${crashes} kill -9, ${promised} saved promises kept`)
  expect(browsers.every((b) => b.promises.length > 0)).toBe(true)
}

describe('@quire/client under random network drops and server crashes', () => {
  for (const seed of readSeeds([1, 42, 2026])) {
    const name = `random edits, drops and kill -9 converge and keep every saved promise (seed ${seed})`
    it(name, async () => {
      await runWithSeed(name, seed, runScenario)
    })
  }
})
