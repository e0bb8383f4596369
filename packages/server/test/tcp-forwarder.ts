import { connect, createServer, type Socket } from 'node:net'

/**
 * A TCP forwarder on 127.0.0.1 to a service the test must not stop (the shared Redis):
 * `sever()` cuts every connection through it and refuses new ones, as an outage of that
 * service looks from the processes using it; `restore()` lets them through again.
 */
export interface TcpForwarder {
  readonly port: number
  sever(): void
  restore(): void
  close(): Promise<void>
}

export async function createTcpForwarder(targetHost: string, targetPort: number): Promise<TcpForwarder> {
  const open = new Set<Socket>()
  let severed = false
  const track = (socket: Socket): void => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
    socket.on('error', () => socket.destroy())
  }
  const server = createServer((client) => {
    track(client)
    if (severed) {
      client.destroy()
      return
    }
    const upstream = connect(targetPort, targetHost)
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    client.once('close', () => upstream.destroy())
    upstream.once('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (typeof address !== 'object' || address === null) throw new Error('the forwarder has no port')
  const destroyAll = (): void => {
    for (const socket of open) socket.destroy()
  }
  return {
    port: address.port,
    sever() {
      severed = true
      destroyAll()
    },
    restore() {
      severed = false
    },
    close() {
      destroyAll()
      return new Promise((resolve) => server.close(() => resolve()))
    }
  }
}
