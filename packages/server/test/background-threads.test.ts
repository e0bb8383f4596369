import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { spawnQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { waitUntil } from './wait-until.js'

/** Each thread of `pid` with its nice value, read from /proc (field 19 of a task's stat). */
function niceByThread(pid: number): Map<number, number> {
  const nice = new Map<number, number>()
  for (const name of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${name}/stat`, 'utf8')
      // After the command name in parentheses: state is field 3, nice field 19.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      nice.set(Number(name), Number(fields[16]))
    } catch {
      // The thread ended while we read.
    }
  }
  return nice
}

function othersThan(pid: number, nice: Map<number, number>): number[] {
  return [...nice].filter(([thread]) => thread !== pid).map(([, value]) => value)
}

const started: SpawnedQuireServer[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.kill('SIGTERM')))
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** libuv's thread pool, sized apart from its default (4) so that finding it is not a coincidence. */
const POOL_SIZE = 6

async function serve(args: string[] = []): Promise<SpawnedQuireServer> {
  const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-background-'))
  dirs.push(dataDir)
  const server = await spawnQuireServer({ dataDir, args, env: { UV_THREADPOOL_SIZE: String(POOL_SIZE) } })
  started.push(server)
  return server
}

/** Writes `count` updates to `room` through the document API. */
async function writeUpdates(server: SpawnedQuireServer, room: string, count: number): Promise<void> {
  const doc = new Y.Doc()
  for (let i = 0; i < count; i++) {
    const before = Y.encodeStateVector(doc)
    doc.getText('t').insert(0, `edit ${i} `)
    const written = await fetch(`${server.httpUrl}/api/v1/documents/${room}/updates`, {
      method: 'POST',
      body: Y.encodeStateAsUpdate(doc, before),
      headers: { 'content-type': 'application/octet-stream' }
    })
    expect(written.status).toBeLessThan(300)
  }
}

describe.runIf(process.platform === 'linux')('quire serve runs its other threads nicer than the event loop', () => {
  it("every thread but the main one and libuv's pool, those started later (the compaction worker) included, is at least 5 nicer by default", async () => {
    const server = await serve(['--compact-after', '3'])
    const main = niceByThread(server.pid).get(server.pid) as number
    const before = niceByThread(server.pid).size
    await writeUpdates(server, 'compacted', 10)
    await waitUntil(() => niceByThread(server.pid).size > before, { timeoutMs: 10_000, describe: () => 'the compaction worker never started' })
    const lowered = (nice: number): boolean => nice >= Math.min(19, main + 5)
    // The pool reads rooms and fsyncs group commits, work a client waits for: it keeps the event loop's priority.
    await waitUntil(
      () => {
        const others = othersThan(server.pid, niceByThread(server.pid))
        return others.filter((nice) => nice === main).length === POOL_SIZE && others.every((nice) => nice === main || lowered(nice))
      },
      { timeoutMs: 5000, describe: () => `${POOL_SIZE} threads at nice ${main}, the others at ${main + 5} or more: ${JSON.stringify([...niceByThread(server.pid)])}` }
    )
    expect(niceByThread(server.pid).get(server.pid)).toBe(main)
    expect(othersThan(server.pid, niceByThread(server.pid)).filter(lowered).length).toBeGreaterThan(4)
  })

  it('--background-nice sets the difference, and 0 leaves every thread as it was', async () => {
    const three = await serve(['--background-nice', '3'])
    const untouched = await serve(['--background-nice', '0'])
    const mainOfThree = niceByThread(three.pid).get(three.pid) as number
    await waitUntil(() => othersThan(three.pid, niceByThread(three.pid)).filter((nice) => nice === mainOfThree + 3).length > 4, {
      timeoutMs: 5000,
      describe: () => `the other threads 3 nicer: ${JSON.stringify([...niceByThread(three.pid)])}`
    })
    // Two looks' worth of time: nothing may change. (No render here: the render worker makes itself nicer on its own.)
    await new Promise((resolve) => setTimeout(resolve, 2200))
    const main = niceByThread(untouched.pid).get(untouched.pid) as number
    expect(new Set(othersThan(untouched.pid, niceByThread(untouched.pid)))).toEqual(new Set([main]))
  })
})
