import { createConnection, type NetConnectOpts, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
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
  /**
   * Called with the update carried by a sync step 2 or update message, and, with
   * `timeArrival`, when the first byte of its frame was read from the socket
   * (performance.now(); NaN otherwise).
   */
  onUpdate?: (update: Uint8Array, subtype: number, firstByteAt: number) => void
  /** Time the socket's reads so that onUpdate can say when a message began to arrive. */
  timeArrival?: boolean
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
  const arrival = options.timeArrival ? createArrivalClock() : undefined
  const socket = new WebSocket(url, {
    perMessageDeflate: false,
    ...(arrival && {
      createConnection: ((connectOptions: NetConnectOpts) => arrival.watch(createConnection(connectOptions))) as typeof createConnection
    })
  })
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
    arrival?.startFrames()
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
  if (arrival) {
    socket.on('ping', (data: Buffer) => arrival.firstByteOfFrame(data.byteLength))
    socket.on('pong', (data: Buffer) => arrival.firstByteOfFrame(data.byteLength))
  }
  socket.on('message', (data: Buffer) => {
    const firstByteAt = arrival ? arrival.firstByteOfFrame(data.byteLength) : Number.NaN
    const decoder = decoding.createDecoder(data)
    if (dialect === 'hocuspocus') decoding.readVarString(decoder)
    const type = decoding.readVarUint(decoder)
    if (type === MESSAGE_SYNC || (dialect === 'hocuspocus' && type === HOCUSPOCUS_SYNC_REPLY)) {
      const subtype = decoding.readVarUint(decoder)
      if (subtype === SYNC_STEP_2 || subtype === SYNC_UPDATE) {
        const update = decoding.readVarUint8Array(decoder)
        options.onUpdate?.(update, subtype, firstByteAt)
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

/**
 * When the first byte of each WebSocket frame reached this process. ws hands over whole
 * messages, and a large one (a sync reply holding a whole document) spans many socket
 * reads, so its 'message' event says when the last byte came. The clock times every
 * read and counts its bytes; each frame ws delivers is then placed in that byte stream
 * by its length (a server's frames are unmasked: 2 header bytes, 2 more from 126 bytes
 * of payload, 8 more from 64 KiB), in the order ws delivers them. The count starts at
 * the 'open' event: the HTTP upgrade response before it is not WebSocket data, and
 * whatever frame bytes came with that response are read again after it (ws puts them
 * back into the socket). Servers here do not fragment messages; a fragmented one
 * would be placed a few header bytes late.
 */
function createArrivalClock(): {
  watch(socket: Socket): Socket
  startFrames(): void
  firstByteOfFrame(payloadLength: number): number
} {
  let readEnds: number[] = []
  let readTimes: number[] = []
  let bytesRead = 0
  let frameStart = 0
  let cursor = 0
  return {
    watch: (socket) => {
      socket.on('data', (chunk: Buffer) => {
        bytesRead += chunk.byteLength
        readEnds.push(bytesRead)
        readTimes.push(performance.now())
      })
      return socket
    },
    startFrames: () => {
      readEnds = []
      readTimes = []
      bytesRead = 0
      frameStart = 0
      cursor = 0
    },
    firstByteOfFrame: (payloadLength) => {
      const header = payloadLength < 126 ? 2 : payloadLength < 65_536 ? 4 : 10
      const start = frameStart
      frameStart += header + payloadLength
      // A frame ending past the bytes read means the count went wrong: say so with NaN.
      if (frameStart > bytesRead) return Number.NaN
      while (cursor < readEnds.length && (readEnds[cursor] as number) <= start) cursor++
      const at = readTimes[cursor] ?? Number.NaN
      if (cursor > 1024) {
        readEnds = readEnds.slice(cursor)
        readTimes = readTimes.slice(cursor)
        cursor = 0
      }
      return at
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
