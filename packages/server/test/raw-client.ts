import { WebSocket } from 'ws'
import { decodeMessage } from '@quire/protocol'
import type { Message } from '@quire/protocol'
import { waitUntil } from './wait-until.js'

/**
 * A bare WebSocket speaking bytes, for what stock clients never send: bad input, and
 * checks of exactly which frames a connection receives.
 */
export interface RawClient {
  readonly socket: WebSocket
  /** Every frame received, in order. */
  readonly frames: Uint8Array[]
  /** The frames that decode, decoded. */
  readonly messages: Message[]
  /** Resolves with the close code and reason once the socket closed. */
  readonly closed: Promise<{ code: number; reason: string }>
  send(frame: Uint8Array): Promise<void>
  waitForMessage(predicate: (message: Message) => boolean, timeoutMs?: number): Promise<Message>
  close(): void
}

export async function openRawClient(serverUrl: string, room: string, options: { quire?: boolean; token?: string } = {}): Promise<RawClient> {
  const query = new URLSearchParams()
  if (options.quire) query.set('quire', '1')
  if (options.token !== undefined) query.set('token', options.token)
  const url = `${serverUrl}/${encodeURIComponent(room)}${query.size > 0 ? `?${query.toString()}` : ''}`
  const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 })
  const frames: Uint8Array[] = []
  const messages: Message[] = []
  socket.binaryType = 'nodebuffer'
  socket.on('message', (data: Buffer) => {
    const frame = new Uint8Array(data)
    frames.push(frame)
    const decoded = decodeMessage(frame)
    if (decoded.ok) messages.push(decoded.message)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
  })
  // A bad-input test expects the server to close on us; errors after that are its business.
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  return {
    socket,
    frames,
    messages,
    closed,
    send: (frame) =>
      new Promise<void>((resolve, reject) => socket.send(frame, { binary: true }, (error) => (error ? reject(error) : resolve()))),
    async waitForMessage(predicate, timeoutMs) {
      let found: Message | undefined
      await waitUntil(() => (found = messages.find(predicate)) !== undefined, {
        timeoutMs,
        describe: () => `received ${messages.map((m) => m.type).join(', ') || 'nothing'}`
      })
      return found as Message
    },
    close: () => socket.close()
  }
}
