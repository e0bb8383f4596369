/**
 * Server-to-client WebSocket frames (RFC 6455 section 5.2: FIN, binary, unmasked), encoded
 * once and written as they are to every receiver's socket. A relayed update goes to every
 * peer of a room but one; through `ws`'s `send` each of them paid for its own frame header,
 * option objects and a two-chunk write. A server's frames are not masked, so the bytes on
 * the wire are the same for every receiver.
 */

const FIN_BINARY = 0x82

export function encodeBinaryFrames(messages: readonly Uint8Array[]): Buffer {
  let total = 0
  for (const message of messages) total += headerLength(message.byteLength) + message.byteLength
  const wire = Buffer.allocUnsafe(total)
  let offset = 0
  for (const message of messages) offset = writeFrame(wire, offset, message)
  return wire
}

function headerLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10
}

function writeFrame(wire: Buffer, start: number, message: Uint8Array): number {
  const length = message.byteLength
  let offset = start
  wire[offset++] = FIN_BINARY
  if (length < 126) {
    wire[offset++] = length
  } else if (length < 0x10000) {
    wire[offset++] = 126
    offset = wire.writeUInt16BE(length, offset)
  } else {
    wire[offset++] = 127
    offset = wire.writeUInt32BE(Math.floor(length / 0x1_0000_0000), offset)
    offset = wire.writeUInt32BE(length >>> 0, offset)
  }
  wire.set(message, offset)
  return offset + length
}

/**
 * The encoding of the messages last asked for, kept for the next caller: a room hands the
 * same message (or the same array of a turn's messages) to each of its receivers in a row,
 * so one entry is enough for all of them to share one encoding. Keyed by identity, which
 * is sound because a message is never changed once sent (`ws` does not copy what it sends
 * either).
 */
let lastMessages: readonly Uint8Array[] | Uint8Array | undefined
let lastWire: Buffer | undefined

export function wireFramesOf(messages: readonly Uint8Array[] | Uint8Array): Buffer {
  if (messages === lastMessages && lastWire !== undefined) return lastWire
  const wire = encodeBinaryFrames(messages instanceof Uint8Array ? [messages] : messages)
  lastMessages = messages
  lastWire = wire
  return wire
}
