import type { WebhookEvent } from './webhook-outbox.js'

/**
 * A delivery's JSON body. It names the event, the room (the document's name) and the
 * delivery (its id is also the `Quire-Delivery` header: a receiver that has seen it
 * already ignores it); `stateVector` is the document's Yjs state vector (base64) when
 * the event was made, for created and updated events: the receiver fetches the content
 * through the HTTP API if it wants it, and can tell whether it has seen this state.
 */
export interface WebhookBody {
  readonly id: string
  readonly event: WebhookEvent
  readonly room: string
  readonly stateVector?: string
  /** When the event was made (ISO 8601). */
  readonly createdAt: string
}

export function encodeWebhookBody(body: WebhookBody): string {
  return JSON.stringify(body)
}

export function encodeStateVectorBase64(stateVector: Uint8Array): string {
  return Buffer.from(stateVector.buffer, stateVector.byteOffset, stateVector.byteLength).toString('base64')
}
