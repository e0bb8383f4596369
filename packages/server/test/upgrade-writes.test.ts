import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { QUIRE_BIN } from '@quire/testkit'
import { openRawClient, type RawClient } from './raw-client.js'
import { runTraced } from './traced-process.js'

/**
 * A client joining a room that is open gets the 101 response and its greeting (sync step
 * 1, presence) in one system call: each socket write costs 25-35 µs of the server's CPU
 * on an AMD EPYC VM, and a reconnect storm is thousands of joins at once. What a client
 * receives cannot tell one write from two (its kernel may join them), so `quire serve`
 * runs under `strace -yy -e trace=write,writev`, which names each socket's peer address:
 * the writes to a client's connection are those naming its port.
 */

const JOINERS = 5

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Joins `room` and waits for the greeting's sync step 1; sends nothing, so nothing else is written to it. */
async function joinAndWaitForGreeting(url: string, room: string): Promise<RawClient> {
  const client = await openRawClient(url, room)
  cleanups.push(() => client.close())
  await client.waitForMessage((message) => message.type === 'sync-step-1')
  return client
}

const localPortOf = (client: RawClient): number => (client.socket as unknown as { _socket: { localPort: number } })._socket.localPort

describe('joining an open room', () => {
  it('writes the 101 response and the greeting in one system call', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-upgrade-writes-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const traced = await runTraced([QUIRE_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', dataDir], { calls: ['write', 'writev'], decode: '-yy' }, cleanups)
    const [, address] = await traced.waitFor(/quire listening on http:\/\/(127\.0\.0\.1:\d+)/)
    const url = `ws://${address}`
    // The room opens for the first client: its greeting waits for the load, so it is a write of its own.
    await joinAndWaitForGreeting(url, 'open room')
    const ports: number[] = []
    for (let i = 0; i < JOINERS; i++) ports.push(localPortOf(await joinAndWaitForGreeting(url, 'open room')))

    const calls = await traced.killAndReadCalls()
    for (const port of ports) {
      const toClient = calls.filter((line) => line.includes(`->127.0.0.1:${port}]`))
      expect(toClient.length, `writes to the client on port ${port}:\n${toClient.join('\n')}`).toBe(1)
      expect(toClient[0]).toContain('HTTP/1.1 101')
    }
  })
})
