import type { UpdateMeta } from './validate-update.js'

/**
 * Every message Quire understands, decoded once at the edge into one of these values.
 * Byte arrays are views into the received frame: copy them if they must outlive it.
 */
export type Message =
  | { readonly type: 'sync-step-1'; readonly stateVector: Uint8Array }
  | { readonly type: 'sync-step-2'; readonly update: Uint8Array }
  | { readonly type: 'sync-update'; readonly update: Uint8Array }
  | { readonly type: 'awareness'; readonly update: Uint8Array }
  | { readonly type: 'auth-permission-denied'; readonly reason: string }
  | { readonly type: 'query-awareness' }
  | { readonly type: 'quire-hello'; readonly version: number }
  | {
      readonly type: 'quire-saved'
      /** Encoded Yjs state vector: for each client id, the clock up to which the writer's updates are durable. */
      readonly stateVector: Uint8Array
      /** A Yjs update holding no structs, only the delete set of the writer's durable updates. */
      readonly deleteSet: Uint8Array
    }
  /** Published by a clone that deleted the room's document, for the clones with the room open. */
  | { readonly type: 'quire-deleted' }

export type MessageKind = Message['type']

/**
 * A message as `decodeMessage` returns it: an update carries what validation learned about
 * it (`meta`), so that the server's later steps (the update guard, acknowledgements,
 * compaction's bookkeeping) need not walk it again. `meta` is null only when payloads were
 * not validated (`validatePayloads: false`).
 */
export type DecodedMessage =
  | Exclude<Message, { readonly type: 'sync-step-2' | 'sync-update' }>
  | { readonly type: 'sync-step-2'; readonly update: Uint8Array; readonly meta: UpdateMeta | null }
  | { readonly type: 'sync-update'; readonly update: Uint8Array; readonly meta: UpdateMeta | null }

/** Why a frame was refused. One table (close-code.ts) maps each kind to a WebSocket close code. */
export type DecodeErrorKind =
  | 'malformed' // truncated, garbage, or trailing bytes
  | 'unknown-type' // a message or sub-message type we do not speak
  | 'invalid-update' // framing was fine but the payload is not a well-formed Yjs update
  | 'invalid-awareness' // framing was fine but the awareness payload is not well formed
  | 'too-large' // over the configured size limit

export interface DecodeError {
  readonly kind: DecodeErrorKind
  /** A readable sentence, short enough for a WebSocket close reason (<= 123 bytes). */
  readonly reason: string
}

export type DecodeResult =
  | { readonly ok: true; readonly message: DecodedMessage }
  | { readonly ok: false; readonly error: DecodeError }
