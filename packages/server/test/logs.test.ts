import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { CLOSE_UNAUTHORIZED, CLOSE_UNSUPPORTED_DATA } from '@quire/protocol'
import { signRoomToken } from '@quire/server'
import { spawnQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { redactUrl } from '../src/redact-url.js'
import { waitUntil } from './wait-until.js'

/**
 * The logs of `quire serve` (cli/pino-log.ts): JSON lines when stdout is not a terminal
 * (here, a pipe), each line about a connection carrying its id and room, and no secret
 * anywhere: not a room token a client put in its URL (valid or forged), not an API key
 * or the token secret from the environment.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const SECRET = 'the log test secret, comfortably longer than 32 bytes'
const API_KEY = 'qk_live_AN-API-KEY-THAT-NEVER-APPEARS-IN-A-LOG'

interface LogLine {
  readonly level: number
  readonly time: number
  readonly msg: string
  readonly conn?: number
  readonly room?: string
  readonly code?: number
  readonly [field: string]: unknown
}

/** Every line of `output`, parsed as JSON; throws on the first line that is not. */
function jsonLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const parsed = JSON.parse(line) as LogLine
      if (typeof parsed.level !== 'number' || typeof parsed.time !== 'number' || typeof parsed.msg !== 'string') {
        throw new Error(`not a log line: ${line}`)
      }
      return parsed
    })
}

function opened(url: string): Promise<{ socket: WebSocket; closed: Promise<number> }> {
  const socket = new WebSocket(url, { perMessageDeflate: false })
  socket.on('error', () => {})
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, closed }))
    socket.once('error', reject)
  })
}

describe('quire serve logs', () => {
  it('are JSON lines on a pipe; a connection’s lines carry its id and room; tokens and API keys never appear', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-logs-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const server: SpawnedQuireServer = await spawnQuireServer({
      dataDir,
      args: ['--secret-env', 'ROOM_SECRET', '--log-level', 'debug'],
      env: { ROOM_SECRET: SECRET, QUIRE_API_KEY: API_KEY }
    })
    cleanups.push(() => server.kill())
    const token = await signRoomToken({ room: 'notes', user: 'ada', access: 'write' }, { secret: SECRET, ttlSeconds: 600 })
    const signature = token.split('.')[2] as string
    const forged = `${token.slice(0, -6)}AAAAAA`

    // A stock client with its token in the URL, as a browser passes it.
    const doc = new Y.Doc()
    const provider = new WebsocketProvider(server.url, 'notes', doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
      params: { token }
    })
    cleanups.push(() => {
      provider.destroy()
      doc.destroy()
    })
    await waitUntil(() => provider.synced, { describe: server.output })
    doc.getText('t').insert(0, 'logged, but not the token')

    // A forged token is refused, and so is a text frame on a valid connection.
    const refused = await opened(`${server.url}/notes?token=${forged}`)
    expect(await refused.closed).toBe(CLOSE_UNAUTHORIZED)
    const rude = await opened(`${server.url}/notes?token=${token}`)
    rude.socket.send('a text frame')
    expect(await rude.closed).toBe(CLOSE_UNSUPPORTED_DATA)
    await waitUntil(() => server.output().includes('"code":1003'), { describe: server.output })
    provider.destroy()
    await server.kill('SIGTERM')

    const output = server.output()
    const lines = jsonLines(output)
    expect(lines.some((line) => line.msg.startsWith('quire listening on '))).toBe(true)

    // Every line that speaks of a connection by number carries that number and its room.
    const aboutConnections = lines.filter((line) => /connection \d+/.test(line.msg))
    expect(aboutConnections.length).toBeGreaterThanOrEqual(5)
    for (const line of aboutConnections) {
      const number = Number(/connection (\d+)/.exec(line.msg)?.[1])
      expect(line, line.msg).toMatchObject({ conn: number, room: 'notes' })
    }
    const rudeLines = lines.filter((line) => line.code === CLOSE_UNSUPPORTED_DATA)
    expect(rudeLines).toHaveLength(1)
    const rudeConn = rudeLines[0]?.conn
    // Its joining (debug), its closing (warn) and its end (debug) are all its own.
    expect(lines.filter((line) => line.conn === rudeConn).map((line) => line.level)).toEqual([20, 40, 20])
    expect(lines.some((line) => line.code === CLOSE_UNAUTHORIZED && line.room === 'notes' && typeof line.conn === 'number')).toBe(true)

    for (const secret of [token, forged, signature, API_KEY, SECRET]) expect(output).not.toContain(secret)
  })
})

describe('redactUrl', () => {
  it.each([
    ['/notes?token=abc.def.ghi', '/notes?token=[redacted]'],
    ['/api/share?room=r&access=read&TOKEN=x', '/api/share?room=r&access=read&TOKEN=[redacted]'],
    ['/api/v1/documents/d?api_key=k&format=json', '/api/v1/documents/d?api_key=[redacted]&format=json'],
    ['/notes?quire=1', '/notes?quire=1'],
    ['/notes', '/notes'],
    ['/x?%74oken=abc', '/x?%74oken=[redacted]']
  ])('%s -> %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted)
  })
})
