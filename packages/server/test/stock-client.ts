import * as Y from 'yjs'
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { decodeMessage } from '@quire/protocol'
import type { Message } from '@quire/protocol'
import { waitUntil } from './wait-until.js'

/**
 * A stock y-websocket 3 client in Node, configured as the issue says (ws as the
 * WebSocket, connect: true, no BroadcastChannel). The room goes into the URL path
 * percent-encoded, since y-websocket appends the name as is.
 *
 * With `quire: true` it adds `?quire=1` and registers a handler for outer type 100 on
 * this provider (y-websocket's public `messageHandlers` table), recording every Quire
 * message the server sends, decoded with @quire/protocol.
 */
export interface StockClient {
  readonly doc: Y.Doc
  readonly provider: WebsocketProvider
  /** Quire extension messages received (only with `quire: true`). */
  readonly quireMessages: Message[]
  /** Waits until the provider has completed a sync handshake with the server. */
  synced(timeoutMs?: number): Promise<void>
  destroy(): void
}

export interface StockClientOptions {
  readonly doc?: Y.Doc
  readonly quire?: boolean
  readonly connect?: boolean
  /** Cap on y-websocket's reconnect backoff; small so reconnect tests stay fast. */
  readonly maxBackoffTime?: number
  /** Name the room in the `room` query parameter too (needed for "." and ".."). */
  readonly roomParam?: boolean
  /** The class the provider opens its sockets with (a test's own, to reach its TCP socket); ws's by default. */
  readonly webSocket?: new (url: string, protocols?: string | string[]) => WebSocket
}

const MESSAGE_QUIRE = 100

export function createStockClient(serverUrl: string, room: string, options: StockClientOptions = {}): StockClient {
  const doc = options.doc ?? new Y.Doc()
  const provider = new WebsocketProvider(serverUrl, encodeURIComponent(room), doc, {
    connect: options.connect ?? true,
    disableBc: true,
    WebSocketPolyfill: (options.webSocket ?? WebSocket) as unknown as typeof globalThis.WebSocket,
    maxBackoffTime: options.maxBackoffTime ?? 300,
    params: { ...(options.quire ? { quire: '1' } : {}), ...(options.roomParam ? { room } : {}) }
  })
  const quireMessages: Message[] = []
  if (options.quire) {
    provider.messageHandlers[MESSAGE_QUIRE] = (_encoder: encoding.Encoder, decoder: decoding.Decoder) => {
      // The handler sees the frame after its outer type; decode the whole frame once.
      const decoded = decodeMessage(decoder.arr)
      decoder.pos = decoder.arr.length
      if (!decoded.ok) throw new Error(`server sent a bad Quire message: ${decoded.error.reason}`)
      quireMessages.push(decoded.message)
    }
  }
  return {
    doc,
    provider,
    quireMessages,
    synced: (timeoutMs) =>
      waitUntil(() => provider.synced, {
        timeoutMs,
        describe: () => `client of "${room}" not synced (connected: ${provider.wsconnected})`
      }),
    destroy() {
      provider.destroy()
      doc.destroy()
    }
  }
}

/**
 * Drops the client's socket without a close handshake and without the awareness
 * removal y-websocket sends on `disconnect()`, as a vanished network would, and keeps
 * the provider from reconnecting.
 */
export function dropConnection(client: StockClient): void {
  client.provider.shouldConnect = false
  const socket = client.provider.ws as unknown as WebSocket | null
  if (socket === null) throw new Error('client has no socket to drop')
  socket.terminate()
}
