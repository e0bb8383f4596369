import type { WebSocket } from 'ws'
import { CLOSE_INVALID_PAYLOAD, CLOSE_MESSAGE_TOO_BIG } from '@quire/protocol'
import { countClose, type TrafficCounters } from '../metrics/traffic-counters.js'

/**
 * The ws library closes a socket itself when framing fails (a frame over maxPayload,
 * a bad opcode, invalid UTF-8 in a text frame), with a code but no reason, and only
 * then emits the error. Give those closes a readable reason so the client learns
 * what happened, like every other close Quire makes.
 *
 * Every close the server sends on a socket passes here (its own and `ws`'s), so this is
 * also where the metrics count closes by code: the first close of an open socket, once,
 * in the one closure per socket there already was.
 */
export function addFramingCloseReasons(ws: WebSocket, maxMessageBytes: number, counters: TrafficCounters | null): void {
  const close = ws.close.bind(ws)
  ws.close = (code?: number, reason?: string | Buffer): void => {
    if (counters !== null && ws.readyState === ws.OPEN) countClose(counters, code ?? 1005)
    if (reason === undefined || reason.length === 0) {
      if (code === CLOSE_MESSAGE_TOO_BIG) reason = `message exceeds the limit of ${maxMessageBytes} bytes`
      else if (code === CLOSE_INVALID_PAYLOAD) reason = 'invalid WebSocket frame payload'
      else if (code === 1002) reason = 'WebSocket protocol error'
    }
    close(code, reason)
  }
}
