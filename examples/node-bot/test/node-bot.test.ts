/**
 * The Node path of @quire/client's README, proven by running the example the way a user
 * does: `node --import tsx src/main.ts` as a child process (the `source` condition, so it
 * runs this working tree's client), against a real Quire server on 127.0.0.1 whose
 * storage the test can hold, to see that the bot exits only once its line is durable.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connect, type QuireSession } from '@quire/client'
import { createMemoryStorage } from '@quire/server'
import { createObservedStorage, startQuireServer, type ObservedStorage, type QuireServerFixture } from '@quire/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'

const exampleDir = fileURLToPath(new URL('..', import.meta.url))

interface RunningBot {
  readonly child: ChildProcess
  output(): string
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>
}

function startBot(args: readonly string[]): RunningBot {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/main.ts', ...args], {
    cwd: exampleDir,
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, output: () => output, exited }
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function openSession(url: string, room: string): QuireSession {
  return connect(new Y.Doc(), { url, room, offline: false, WebSocketPolyfill: WebSocket })
}

/** The text as a fresh client reads it from the server. */
async function readText(url: string, room: string): Promise<string> {
  const session = openSession(url, room)
  await session.whenSynced
  const text = session.doc.getText('codemirror').toString()
  await session.destroy()
  return text
}

describe('examples/node-bot', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function startServer(): Promise<{ server: QuireServerFixture; observed: ObservedStorage }> {
    const observed = createObservedStorage(createMemoryStorage())
    const server = await startQuireServer({ storage: observed.storage })
    cleanups.push(() => server.close())
    return { server, observed }
  }

  function track(bot: RunningBot): RunningBot {
    cleanups.push(async () => {
      if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL')
      await bot.exited
    })
    return bot
  }

  it('appends a line after what people wrote, and exits only once the server saved it', async () => {
    const { server, observed } = await startServer()
    const room = 'bot-room'
    const person = openSession(server.url, room)
    cleanups.push(() => person.destroy())
    await person.whenSynced
    person.doc.getText('codemirror').insert(0, 'written by a person')
    await waitUntil('the person’s text is saved', () => person.saved === true)

    // Hold every write: the bot's line reaches the server but cannot become durable.
    observed.hold()
    const bot = track(startBot(['--url', server.url, '--room', room, 'hello from the bot']))
    // What the storage had not finished writing at the moment the bot exited: must be nothing.
    let unwrittenAtExit: number | null = null
    bot.child.once('exit', () => (unwrittenAtExit = observed.appends.filter((append) => append.resolvedAt === null).length))
    // The person sees the line live, after their own text (the bot waited for the sync), before it is durable.
    await waitUntil('the person sees the line', () => person.doc.getText('codemirror').toString() === 'written by a person\nhello from the bot')
    await waitUntil('the bot waits for the save (or exits)', () => bot.output().includes('waiting for the server to save') || bot.child.exitCode !== null, 30_000)
    observed.release()

    expect(await bot.exited, bot.output()).toBe(0)
    expect(unwrittenAtExit, 'the bot exited while its line was still being written').toBe(0)
    expect(bot.output()).toContain(`saved to ${room}`)
    expect(await readText(server.url, room)).toBe('written by a person\nhello from the bot')
  })

  it('appends every line read from stdin, each on a line of its own', async () => {
    const { server } = await startServer()
    const bot = track(startBot(['--url', server.url, '--room', 'stdin-room']))
    bot.child.stdin?.end('first\nsecond\n')
    expect(await bot.exited, bot.output()).toBe(0)
    expect(await readText(server.url, 'stdin-room')).toBe('first\nsecond')
  })

  it('refuses to start without a room, saying why', async () => {
    const bot = track(startBot(['hello']))
    expect(await bot.exited).toBe(2)
    expect(bot.output()).toContain('--room is required')
  })
})
