export type { DecodedMessage, Message, MessageKind, DecodeError, DecodeErrorKind, DecodeResult } from './message.js'
export {
  MESSAGE_SYNC,
  MESSAGE_AWARENESS,
  MESSAGE_AUTH,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_QUIRE,
  SYNC_STEP_1,
  SYNC_STEP_2,
  SYNC_UPDATE,
  AUTH_PERMISSION_DENIED,
  QUIRE_HELLO,
  QUIRE_SAVED,
  QUIRE_DELETED,
  QUIRE_EXTENSION_VERSION,
  QUIRE_EXTENSION_PARAM
} from './message-type.js'
export { decodeMessage } from './decode-message.js'
export type { DecodeOptions } from './decode-message.js'
export { encodeMessage, writeMessage } from './encode-message.js'
export { decodeAwarenessUpdate, encodeAwarenessUpdate } from './awareness-update.js'
export type { AwarenessEntry, AwarenessDecodeResult } from './awareness-update.js'
export { findUpdateProblem, findStateVectorProblem, inspectUpdate, isEmptyUpdate, updateMetaOf } from './validate-update.js'
export type { InspectedUpdate, UpdateInspection, UpdateMeta } from './validate-update.js'
export {
  CLOSE_NORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_UNSUPPORTED_DATA,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_POLICY_VIOLATION,
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_INTERNAL_ERROR,
  CLOSE_SERVICE_RESTART,
  CLOSE_TRY_AGAIN_LATER,
  CLOSE_UNAUTHORIZED,
  CLOSE_FORBIDDEN,
  CLOSE_DOCUMENT_DELETED,
  closeCodeForDecodeError,
  truncateCloseReason
} from './close-code.js'
export { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_ROOM_NAME_BYTES } from './limits.js'
export { createSavedAcknowledgement } from './saved-acknowledgement.js'
