import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { decodeMessage } from '@quire/protocol'
import { createServer } from '@quire/server'
import { spawnHaproxy, spawnQuireServer, startQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { waitUntil } from './wait-until.js'

/**
 * Quire behind a real HAProxy (`option forwardfor`), as the README sets it up, and what
 * `--trust-proxy` changes: which address a connection is counted, limited and logged by.
 *
 * Every process here is on loopback, so the addresses are told apart by binding: each
 * test client connects from its own address in 127.0.1.0/24 (Linux routes all of
 * 127.0.0.0/8 to lo), and HAProxy connects to quire from 127.0.0.2, the only address
 * quire is told to trust. So X-Forwarded-For holds what HAProxy really saw, no header is
 * made up by the test except where a client forges one, and "all clients from one
 * address" is what quire sees of a proxy it does not trust.
 */

const PROXY_ADDRESS = '127.0.0.2'
const CAP = 4
const CAP_REASON = `too many connections from your address (limit ${CAP})`

const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serve(args: readonly string[]): Promise<SpawnedQuireServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'quire-proxy-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  const server = await spawnQuireServer({ dataDir, args: ['--max-connections-per-ip', String(CAP), ...args] })
  cleanups.push(() => server.kill('SIGTERM'))
  return server
}

async function proxyTo(server: SpawnedQuireServer): Promise<string> {
  const proxy = await spawnHaproxy({ backendPort: server.port, sourceAddress: PROXY_ADDRESS })
  cleanups.push(() => proxy.stop())
  return proxy.url
}

type Outcome = 'joined' | { readonly code: number; readonly reason: string }

/**
 * Opens a socket to `room` from `localAddress` and resolves once the server let it join
 * (its first sync message arrived) or closed it. The socket stays open until the test ends.
 */
function connect(url: string, room: string, localAddress: string, headers: Record<string, string> = {}): { ws: WebSocket; outcome: Promise<Outcome> } {
  const ws = new WebSocket(`${url}/${encodeURIComponent(room)}`, { perMessageDeflate: false, localAddress, headers })
  cleanups.push(() => ws.terminate())
  const outcome = new Promise<Outcome>((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      const decoded = decodeMessage(new Uint8Array(data))
      if (decoded.ok && decoded.message.type === 'sync-step-1') resolve('joined')
    })
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    ws.on('error', reject)
  })
  return { ws, outcome }
}

/** Client `i` of `count`, `perAddress` to an address: its own address in 127.0.1.0/24. */
function clientAddress(i: number, perAddress: number): string {
  return `127.0.1.${1 + Math.floor(i / perAddress)}`
}

async function connectMany(url: string, count: number, perAddress: number): Promise<Outcome[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => connect(url, `room-${i % 10}`, clientAddress(i, perAddress)).outcome))
}

describe('behind HAProxy', () => {
  it('trusted: 200 connections from 50 clients, 4 each, are all served with a cap of 4 per address; a fifth from one is refused', async () => {
    const server = await serve(['--trust-proxy', `${PROXY_ADDRESS}/32`])
    const url = await proxyTo(server)
    const outcomes = await connectMany(url, 200, CAP)
    expect(outcomes.filter((o) => o !== 'joined')).toEqual([])
    expect(await connect(url, 'room-0', clientAddress(0, CAP)).outcome).toEqual({ code: 1008, reason: CAP_REASON })
  })

  it('not trusted: the same 200 count as the proxy, one address, and all but 4 are refused', async () => {
    const server = await serve([])
    const url = await proxyTo(server)
    const outcomes = await connectMany(url, 200, CAP)
    expect(outcomes.filter((o) => o === 'joined')).toHaveLength(CAP)
    expect(outcomes.filter((o) => o !== 'joined')).toEqual(Array.from({ length: 200 - CAP }, () => ({ code: 1008, reason: CAP_REASON })))
  })

  it('trusted: a client forging X-Forwarded-For through the proxy is still counted by its own address', async () => {
    const server = await serve(['--trust-proxy', `${PROXY_ADDRESS}/32`])
    const url = await proxyTo(server)
    // HAProxy appends the forger's address after the forged one, and that is the one quire takes.
    const forged = Array.from({ length: CAP + 1 }, (_, i) => connect(url, 'r', '127.0.1.9', { 'X-Forwarded-For': `198.51.100.${i + 1}` }).outcome)
    const outcomes = await Promise.all(forged)
    expect(outcomes.filter((o) => o === 'joined')).toHaveLength(CAP)
    expect(outcomes.filter((o) => o !== 'joined')).toEqual([{ code: 1008, reason: CAP_REASON }])
  })

  it('a client forging X-Forwarded-For or Forwarded straight to quire (not a trusted proxy) is counted by its own address', async () => {
    const server = await serve(['--trust-proxy', `${PROXY_ADDRESS}/32`])
    const forged = Array.from({ length: CAP + 2 }, (_, i) =>
      connect(server.url, 'r', '127.0.1.10', i % 2 === 0 ? { 'X-Forwarded-For': `198.51.100.${i + 1}` } : { Forwarded: `for=198.51.100.${i + 1}` }).outcome
    )
    const outcomes = await Promise.all(forged)
    expect(outcomes.filter((o) => o === 'joined')).toHaveLength(CAP)
    expect(outcomes.filter((o) => o !== 'joined')).toEqual([{ code: 1008, reason: CAP_REASON }, { code: 1008, reason: CAP_REASON }])
  })

  it('trusted: the log names the client, not the proxy', async () => {
    const server = await serve(['--trust-proxy', `${PROXY_ADDRESS}/32`])
    const url = await proxyTo(server)
    const { ws, outcome } = connect(url, 'r', '127.0.1.77')
    expect(await outcome).toBe('joined')
    ws.send('a text frame, which the protocol has no use for')
    await waitUntil(() => /closing connection \d+ to "r" from 127\.0\.1\.77: 1003/.test(server.logMessages()), { describe: server.output })
    await waitUntil(() => server.output().includes(`client addresses are taken from X-Forwarded-For or Forwarded on connections from: ${PROXY_ADDRESS}/32`), {
      describe: server.output
    })
  })
})

describe('trustProxy in createServer', () => {
  it('the new-connection rate counts the forwarded address too', async () => {
    // The test is on loopback, so trusting loopback makes it a proxy: it names its clients.
    const server = await startQuireServer({ trustProxy: ['loopback'], limits: { maxNewConnectionsPerSecondPerIp: 0.01, newConnectionBurstPerIp: 2 } })
    cleanups.push(() => server.close())
    const from = (client: string) => connect(server.url, 'r', '127.0.0.1', { 'X-Forwarded-For': client }).outcome
    expect([await from('192.0.2.1'), await from('192.0.2.1'), await from('192.0.2.1')]).toEqual([
      'joined',
      'joined',
      { code: 1013, reason: 'try again later: more than 0.01 new connections per second from your address' }
    ])
    expect(await from('192.0.2.2')).toBe('joined')
  })

  it('refuses a range that is not one, saying what to write', () => {
    expect(() => createServer({ trustProxy: ['10.0.0.0/8', 'my-proxy.internal'] })).toThrow(
      new RangeError('trustProxy: a trusted proxy must be an address (192.0.2.7, ::1), a CIDR range (10.0.0.0/8, fd00::/8) or loopback, got "my-proxy.internal"')
    )
  })
})
