import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createServer } from '@quire/server'
import { spawnQuireServer } from '@quire/testkit'
import { documentUpdate, starterKitDocument } from './render-fixtures.js'
import { waitUntil } from './wait-until.js'

/**
 * Documents render in a child process (render/render-process.ts) whose every thread runs
 * at the lowest priority, V8's helper threads included: where it shares a core with the
 * relay, its garbage collection and compiles give way to the relay's work too. The
 * process ends with the server, whether the server closes or is killed. Linux: threads
 * and their priorities are read from /proc.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Fields of /proc/<pid>/task/<tid>/stat after the command name: [1] parent pid, [16] nice. */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** The render processes whose parent is `parent`. */
function renderProcessesOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return Number(statFields(`/proc/${pid}/stat`)[1]) === parent && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('render-worker')
      } catch {
        return false // gone meanwhile
      }
    })
    .map(Number)
}

function isRunning(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped by its parent) is not running.
    return statFields(`/proc/${pid}/stat`)[0] !== 'Z'
  } catch {
    return false
  }
}

/** The nice value of each of the process's threads. */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((thread) => Number(statFields(`/proc/${pid}/task/${thread}/stat`)[16]))
}

async function renderOnce(http: string, room: string): Promise<void> {
  const upload = await fetch(`${http}/api/v1/documents/${room}/updates`, { method: 'POST', body: documentUpdate(starterKitDocument()) })
  expect(upload.status).toBe(200)
  const response = await fetch(`${http}/api/v1/documents/${room}?format=html`)
  expect(response.status, await response.clone().text()).toBe(200)
  expect(await response.text()).toContain('<h1>Title</h1>')
}

describe.runIf(process.platform === 'linux')('the render process', () => {
  it('runs every one of its threads at the lowest priority, and ends when the server closes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quire-render-process-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const ownNice = (): number => Number(statFields(`/proc/${process.pid}/stat`)[16])
    const niceBefore = ownNice()
    const server = createServer({ dataDir: dir })
    const { url } = await server.listen(0, '127.0.0.1')
    let closed = false
    cleanups.push(async () => {
      if (!closed) await server.close()
    })
    await renderOnce(url, 'priority')
    const [child] = renderProcessesOf(process.pid)
    expect(child, 'a render process, child of the server').toBeDefined()
    const niceness = threadNiceness(child as number)
    // The main thread and V8's helpers (started before the renderer's code ran) at least.
    expect(niceness.length).toBeGreaterThan(2)
    expect(niceness.every((nice) => nice === 19), `nice values of its threads: ${niceness.join(' ')}`).toBe(true)
    expect(ownNice(), 'the server itself keeps its priority').toBe(niceBefore)
    await server.close()
    closed = true
    expect(isRunning(child as number)).toBe(false)
  })

  it('ends when the server is killed with -9', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quire-render-process-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const server = await spawnQuireServer({ dataDir: dir })
    cleanups.push(() => server.kill('SIGKILL'))
    await renderOnce(server.httpUrl, 'orphan')
    const [child] = renderProcessesOf(server.pid)
    expect(child, 'a render process, child of the server').toBeDefined()
    await server.kill('SIGKILL')
    // Its parent gone, it is reparented and must end by itself, not linger.
    await waitUntil(() => !isRunning(child as number), { timeoutMs: 5000, describe: () => `render process ${child} still runs` })
  })
})
