import { WebSocketServer, type WebSocket } from 'ws'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'

/**
 * A server that speaks only the stock y-websocket protocol (sync messages, one Y.Doc
 * per room, no acknowledgement extension) and ignores the `quire=1` query parameter,
 * as the reference y-websocket server does. Awareness frames are relayed as they are.
 */
export interface StockSyncServer {
  readonly url: string
  docOf(room: string): Y.Doc | undefined
  close(): Promise<void>
}

export async function startStockSyncServer(): Promise<StockSyncServer> {
  const rooms = new Map<string, { doc: Y.Doc; sockets: Set<WebSocket> }>()
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  wss.on('connection', (socket, request) => {
    const name = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname.slice(1))
    let room = rooms.get(name)
    if (room === undefined) {
      const doc = new Y.Doc()
      const sockets = new Set<WebSocket>()
      doc.on('update', (update: Uint8Array, origin: unknown) => {
        const encoder = encoding.createEncoder()
        encoding.writeVarUint(encoder, 0)
        syncProtocol.writeUpdate(encoder, update)
        const frame = encoding.toUint8Array(encoder)
        for (const other of sockets) if (other !== origin) other.send(frame)
      })
      room = { doc, sockets }
      rooms.set(name, room)
    }
    const { doc, sockets } = room
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('message', (data: Buffer) => {
      const decoder = decoding.createDecoder(new Uint8Array(data))
      const type = decoding.readVarUint(decoder)
      if (type === 0) {
        const encoder = encoding.createEncoder()
        encoding.writeVarUint(encoder, 0)
        syncProtocol.readSyncMessage(decoder, encoder, doc, socket)
        if (encoding.length(encoder) > 1) socket.send(encoding.toUint8Array(encoder))
      } else if (type === 1) {
        for (const other of sockets) if (other !== socket) other.send(data)
      }
    })
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 0)
    syncProtocol.writeSyncStep1(encoder, doc)
    socket.send(encoding.toUint8Array(encoder))
  })
  const address = wss.address()
  if (address === null || typeof address === 'string') throw new Error('stock server has no TCP address')
  return {
    url: `ws://127.0.0.1:${address.port}`,
    docOf: (room) => rooms.get(room)?.doc,
    async close() {
      for (const client of wss.clients) client.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    }
  }
}
