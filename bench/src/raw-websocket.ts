import { connect, type Socket } from 'node:net'

/**
 * A WebSocket client on a bare TCP socket, for the reconnect storm's thousands of
 * clients. A reconnect storm is a wave of clients that all retry in the same
 * millisecond; a load generator on one core can only start them one after another, and
 * with `ws` (URL parsing, an http.ClientRequest, a random key and its SHA-1 check, a
 * stream pipeline per socket) 5,000 attempts took the generator about a second, so the
 * wave reached the server spread over that second whatever the server did. This client
 * writes a fixed upgrade request, reads the status line of the answer and then speaks
 * RFC 6455 framing by hand: binary messages, close, ping/pong. Client frames carry the
 * mask bit with an all-zero key (servers must accept any key; a zero key leaves the
 * payload as it is). What a browser checks and a load generator need not (the
 * Sec-WebSocket-Accept hash, UTF-8 of close reasons) is not checked.
 */
export interface RawWebSocketHandlers {
  /** The server answered 101: the connection is open. */
  onOpen(): void
  /** One binary message (servers here do not fragment). */
  onMessage(payload: Buffer): void
  /**
   * The connection is gone, as a WebSocket's close event: the code of the server's close
   * frame, or 1006 when there was none. `refused` when nothing listened on the port.
   */
  onClose(code: number, reason: string, refused: boolean): void
}

export interface RawWebSocket {
  readonly isOpen: boolean
  send(payload: Uint8Array): void
  /** A close handshake (1000), as `WebSocket.close()`. */
  close(): void
  /** Drops the socket at once. */
  terminate(): void
}

const OPCODE_TEXT = 0x1
const OPCODE_BINARY = 0x2
const OPCODE_CLOSE = 0x8
const OPCODE_PING = 0x9
const FIN = 0x80
const MASKED = 0x80
// 16 bytes in base64, as servers require; they hash it into their answer, which nothing here checks.
const KEY = 'cXVpcmUtc3Rvcm0tbG9hZA=='
const HEADER_END = Buffer.from('\r\n\r\n')

export function openRawWebSocket(host: string, port: number, path: string, handlers: RawWebSocketHandlers): RawWebSocket {
  return new RawClient(host, port, path, handlers)
}

class RawClient implements RawWebSocket {
  private state: 'connecting' | 'open' | 'closing' = 'connecting'
  private readonly socket: Socket
  private pending: Buffer = Buffer.alloc(0)
  private closeCode = 1006
  private closeReason = ''
  private refused = false
  private ended = false

  constructor(
    host: string,
    port: number,
    path: string,
    private readonly handlers: RawWebSocketHandlers
  ) {
    const socket = connect({ host, port, noDelay: true })
    this.socket = socket
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    })
    socket.on('data', (chunk: Buffer) => this.received(chunk))
    socket.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'ECONNREFUSED') this.refused = true
    })
    socket.once('close', () => {
      this.state = 'closing'
      if (this.ended) return
      this.ended = true
      this.handlers.onClose(this.closeCode, this.closeReason, this.refused)
    })
  }

  get isOpen(): boolean {
    return this.state === 'open'
  }

  send(payload: Uint8Array): void {
    if (this.state !== 'open') return
    this.socket.write(clientFrame(OPCODE_BINARY, payload))
  }

  close(): void {
    if (this.state !== 'open') {
      this.terminate()
      return
    }
    const code = Buffer.alloc(2)
    code.writeUInt16BE(1000)
    this.socket.write(clientFrame(OPCODE_CLOSE, code))
    this.state = 'closing'
    this.socket.end()
  }

  terminate(): void {
    this.state = 'closing'
    this.socket.destroy()
  }

  private received(chunk: Buffer): void {
    if (this.state === 'closing') return
    this.pending = this.pending.byteLength === 0 ? chunk : Buffer.concat([this.pending, chunk])
    if (this.state === 'connecting' && !this.readUpgradeAnswer()) return
    this.readFrames()
  }

  /** True once the 101 is in (and consumed); a refusal over HTTP ends the socket. */
  private readUpgradeAnswer(): boolean {
    const end = this.pending.indexOf(HEADER_END)
    if (end < 0) return false
    const status = this.pending.toString('latin1', 0, Math.min(end, 16))
    this.pending = this.pending.subarray(end + HEADER_END.byteLength)
    if (!status.startsWith('HTTP/1.1 101')) {
      this.terminate()
      return false
    }
    this.state = 'open'
    this.handlers.onOpen()
    return this.isOpen
  }

  private readFrames(): void {
    for (;;) {
      const buffer = this.pending
      if (buffer.byteLength < 2) return
      const opcode = (buffer[0] as number) & 0x0f
      let length = (buffer[1] as number) & 0x7f
      let offset = 2
      if (length === 126) {
        if (buffer.byteLength < 4) return
        length = buffer.readUInt16BE(2)
        offset = 4
      } else if (length === 127) {
        if (buffer.byteLength < 10) return
        length = buffer.readUInt32BE(2) * 0x1_0000_0000 + buffer.readUInt32BE(6)
        offset = 10
      }
      if (buffer.byteLength < offset + length) return
      const payload = buffer.subarray(offset, offset + length)
      this.pending = buffer.subarray(offset + length)
      if (opcode === OPCODE_BINARY || opcode === OPCODE_TEXT) {
        this.handlers.onMessage(payload)
      } else if (opcode === OPCODE_CLOSE) {
        this.closeCode = payload.byteLength >= 2 ? payload.readUInt16BE(0) : 1005
        this.closeReason = payload.toString('utf8', 2)
        this.socket.write(clientFrame(OPCODE_CLOSE, payload.subarray(0, 2)))
        this.state = 'closing'
        this.socket.end()
        return
      } else if (opcode === OPCODE_PING) {
        this.socket.write(clientFrame(0xa, payload))
      }
      if (!this.isOpen) return
    }
  }
}

/** A final client frame, masked with an all-zero key. */
function clientFrame(opcode: number, payload: Uint8Array): Buffer {
  const length = payload.byteLength
  const header = length < 126 ? 2 : length < 0x10000 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + 4 + length)
  frame[0] = FIN | opcode
  if (length < 126) {
    frame[1] = MASKED | length
  } else if (length < 0x10000) {
    frame[1] = MASKED | 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = MASKED | 127
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  frame.writeUInt32BE(0, header)
  frame.set(payload, header + 4)
  return frame
}
