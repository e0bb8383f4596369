import type { DecodeErrorKind } from './message.js'

/** WebSocket close codes Quire uses (RFC 6455 section 7.4.1, and 4xxx for application codes). */
export const CLOSE_NORMAL = 1000
export const CLOSE_GOING_AWAY = 1001
export const CLOSE_UNSUPPORTED_DATA = 1003
export const CLOSE_INVALID_PAYLOAD = 1007
export const CLOSE_POLICY_VIOLATION = 1008
export const CLOSE_MESSAGE_TOO_BIG = 1009
export const CLOSE_INTERNAL_ERROR = 1011
/** The server is going away and another (a clone, or itself restarted) takes over: reconnect at once. */
export const CLOSE_SERVICE_RESTART = 1012
export const CLOSE_TRY_AGAIN_LATER = 1013
export const CLOSE_UNAUTHORIZED = 4401
export const CLOSE_FORBIDDEN = 4403
/** The document was deleted and a tombstone refuses it until it is created again: permanent, like 4401 and 4403; a client neither reconnects nor resends its local copy. */
export const CLOSE_DOCUMENT_DELETED = 4404

/** The one place a decode failure turns into a close code. */
export const closeCodeForDecodeError: Readonly<Record<DecodeErrorKind, number>> = {
  malformed: CLOSE_INVALID_PAYLOAD,
  'invalid-update': CLOSE_INVALID_PAYLOAD,
  'invalid-awareness': CLOSE_INVALID_PAYLOAD,
  'unknown-type': CLOSE_POLICY_VIOLATION,
  'too-large': CLOSE_MESSAGE_TOO_BIG
}

const encoder = new TextEncoder()

/**
 * WebSocket close reasons are limited to 123 bytes of UTF-8. Cut on a character
 * boundary so the reason stays readable instead of making `close()` throw.
 */
export function truncateCloseReason(reason: string): string {
  if (encoder.encode(reason).length <= 123) return reason
  let out = ''
  for (const ch of reason) {
    if (encoder.encode(out + ch + '…').length > 123) break
    out += ch
  }
  return out + '…'
}
