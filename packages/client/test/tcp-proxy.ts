import * as net from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 in front of a server, standing in for the network between
 * one "browser" and the server. It can cut every connection at once (as a dropped
 * Wi-Fi or a server-side close would: no WebSocket close frame), refuse new ones for a
 * while (the server looks unreachable), and swallow server-to-client bytes (an
 * acknowledgement that never arrives).
 */
export interface TcpProxy {
  readonly port: number
  /** `ws://127.0.0.1:<port>` */
  readonly url: string
  /** Destroys every open connection. */
  dropAll(): void
  /** While true, new connections are accepted and destroyed at once. */
  setRefusing(refusing: boolean): void
  /** While true, bytes from the server are discarded instead of forwarded. */
  setSwallowingDownstream(swallow: boolean): void
  /** Connections currently open through the proxy. */
  readonly openConnections: number
  /** TCP connections the client side opened so far, refused ones included: each is a connection attempt. */
  readonly connectionAttempts: number
  /** Calls `callback` once, when the next connection attempt arrives (before it is refused or forwarded). */
  onNextAttempt(callback: () => void): void
  close(): Promise<void>
}

export async function startTcpProxy(target: { port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>()
  let refusing = false
  let swallowing = false
  let attempts = 0
  let nextAttempt: (() => void) | null = null
  const server = net.createServer((client) => {
    attempts++
    const callback = nextAttempt
    nextAttempt = null
    callback?.()
    if (refusing) {
      client.destroy()
      return
    }
    const upstream = net.connect({ host: '127.0.0.1', port: target.port })
    const pair = { client, upstream }
    pairs.add(pair)
    const teardown = (): void => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => {
      if (!swallowing) client.write(chunk)
    })
    client.on('close', teardown)
    upstream.on('close', teardown)
    client.on('error', teardown)
    upstream.on('error', teardown)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address')
  const dropAll = (): void => {
    for (const { client, upstream } of [...pairs]) {
      client.destroy()
      upstream.destroy()
    }
    pairs.clear()
  }
  return {
    port: address.port,
    url: `ws://127.0.0.1:${address.port}`,
    dropAll,
    setRefusing(value) {
      refusing = value
    },
    setSwallowingDownstream(value) {
      swallowing = value
    },
    get openConnections() {
      return pairs.size
    },
    get connectionAttempts() {
      return attempts
    },
    onNextAttempt(callback) {
      nextAttempt = callback
    },
    async close() {
      dropAll()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** A port nothing listens on (yet): the "server is down" address a test starts the server on later. */
export async function findFreePort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const address = probe.address()
  if (address === null || typeof address === 'string') throw new Error('probe has no TCP address')
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return address.port
}
