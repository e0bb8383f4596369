import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import type { Dialect } from './server-kind.js'

/**
 * One load-generator connection: a bare `ws` socket speaking the y-websocket
 * protocol with lib0 encoding, not a WebsocketProvider, so thousands of them
 * fit in one process on one core.
 *
 * Hocuspocus frames every message as [varString documentName, ...y-websocket
 * message] and waits for an auth message ([name, 2 auth, 0 token, token]) before
 * it handles anything else of that document; it answers with [name, 2, 2
 * authenticated, scope]. Its sync replies may use outer type 4 (SyncReply),
 * which means the same as 0. The relay answers nothing, so a relay client is
 * ready as soon as the socket opens.
 */

export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_QUIRE = 100
const MESSAGE_AUTH = 2
const HOCUSPOCUS_SYNC_REPLY = 4
const SYNC_STEP_1 = 0
export const SYNC_STEP_2 = 1
export const SYNC_UPDATE = 2

export interface BenchClientOptions {
  baseUrl: string
  room: string
  dialect: Dialect
  /** Query string without '?', e.g. 'quire=1'. */
  query?: string
  /** Called with the update carried by a sync step 2 or update message. */
  onUpdate?: (update: Uint8Array, subtype: number) => void
  /** Called with the whole frame of a Quire extension message (outer type 100). */
  onQuire?: (message: Uint8Array) => void
  /** Send sync step 1 and wait for step 2 (default true unless the dialect is `relay`). */
  handshake?: boolean
}

export interface BenchClient {
  socket: WebSocket
  /** Resolves when the socket is open and the sync handshake (if any) finished. */
  ready: Promise<void>
  sendUpdate(update: Uint8Array): void
  sendAwareness(update: Uint8Array): void
  /** Sends sync step 1 with an empty state vector; servers answer with step 2 after all earlier messages. */
  requestSync(): void
  close(): Promise<void>
}

const CONNECT_TIMEOUT_MS = 30_000

export function createBenchClient(options: BenchClientOptions): BenchClient {
  const { dialect, room } = options
  const url = `${options.baseUrl}/${encodeURIComponent(room)}${options.query ? `?${options.query}` : ''}`
  const socket = new WebSocket(url, { perMessageDeflate: false })
  const handshake = options.handshake ?? dialect !== 'relay'

  const frame = (write: (encoder: encoding.Encoder) => void): Uint8Array => {
    const encoder = encoding.createEncoder()
    if (dialect === 'hocuspocus') encoding.writeVarString(encoder, room)
    write(encoder)
    return encoding.toUint8Array(encoder)
  }

  let markReady: () => void = () => {}
  let failReady: (error: Error) => void = () => {}
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve
    failReady = reject
  })
  const timer = setTimeout(() => failReady(new Error(`connect timeout: ${url}`)), CONNECT_TIMEOUT_MS)
  void ready.then(
    () => clearTimeout(timer),
    () => clearTimeout(timer)
  )

  const requestSync = (): void => {
    socket.send(
      frame((encoder) => {
        encoding.writeVarUint(encoder, MESSAGE_SYNC)
        encoding.writeVarUint(encoder, SYNC_STEP_1)
        encoding.writeVarUint8Array(encoder, new Uint8Array([0]))
      })
    )
  }

  socket.binaryType = 'nodebuffer'
  socket.on('open', () => {
    if (dialect === 'hocuspocus') {
      socket.send(
        frame((encoder) => {
          encoding.writeVarUint(encoder, MESSAGE_AUTH)
          encoding.writeVarUint(encoder, 0)
          encoding.writeVarString(encoder, '')
        })
      )
    }
    if (!handshake) {
      markReady()
      return
    }
    requestSync()
  })
  socket.on('error', (error) => failReady(error))
  socket.on('close', (code, reason) => failReady(new Error(`closed ${code} ${reason.toString()}: ${url}`)))
  socket.on('message', (data: Buffer) => {
    const decoder = decoding.createDecoder(data)
    if (dialect === 'hocuspocus') decoding.readVarString(decoder)
    const type = decoding.readVarUint(decoder)
    if (type === MESSAGE_SYNC || (dialect === 'hocuspocus' && type === HOCUSPOCUS_SYNC_REPLY)) {
      const subtype = decoding.readVarUint(decoder)
      if (subtype === SYNC_STEP_2 || subtype === SYNC_UPDATE) {
        const update = decoding.readVarUint8Array(decoder)
        options.onUpdate?.(update, subtype)
        if (subtype === SYNC_STEP_2) markReady()
      }
    } else if (type === MESSAGE_QUIRE) {
      options.onQuire?.(data)
    }
  })

  return {
    socket,
    ready,
    sendUpdate: (update) => {
      socket.send(
        frame((encoder) => {
          encoding.writeVarUint(encoder, MESSAGE_SYNC)
          encoding.writeVarUint(encoder, SYNC_UPDATE)
          encoding.writeVarUint8Array(encoder, update)
        })
      )
    },
    requestSync,
    sendAwareness: (update) => {
      socket.send(
        frame((encoder) => {
          encoding.writeVarUint(encoder, MESSAGE_AWARENESS)
          encoding.writeVarUint8Array(encoder, update)
        })
      )
    },
    close: async () => {
      if (socket.readyState === WebSocket.CLOSED) return
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      socket.close()
      await closed
    }
  }
}

/** Opens clients a bounded number at a time so thousands of handshakes do not time out. */
export async function openClients<T>(count: number, open: (index: number) => BenchClient & T, parallel = 200): Promise<(BenchClient & T)[]> {
  const clients: (BenchClient & T)[] = []
  for (let start = 0; start < count; start += parallel) {
    const batch: (BenchClient & T)[] = []
    for (let index = start; index < Math.min(count, start + parallel); index++) batch.push(open(index))
    await Promise.all(batch.map(async (client) => await client.ready))
    clients.push(...batch)
  }
  return clients
}

export async function closeClients(clients: readonly BenchClient[]): Promise<void> {
  await Promise.all(clients.map(async (client) => await client.close()))
}
