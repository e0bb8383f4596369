import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Webhook signatures, as the well-known providers sign theirs (Stripe's scheme): the
 * `Quire-Signature` header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 * The timestamp is signed with the body, so a receiver that refuses old timestamps
 * refuses a replayed request, and it is taken anew at each attempt while the body stays
 * the same (so the delivery id inside it stays the receiver's idempotency key). A header
 * may carry several `v1=` values (one per secret while a secret is being rotated); one
 * match is enough.
 */
export const SIGNATURE_HEADER = 'quire-signature'
export const DELIVERY_HEADER = 'quire-delivery'
export const EVENT_HEADER = 'quire-event'

/** How old a signature's timestamp may be by default, in seconds (either way: clocks drift). */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300

function hmacHex(secret: string, timestamp: number, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', secret)
  hmac.update(`${timestamp}.`)
  hmac.update(body)
  return hmac.digest('hex')
}

/** The `Quire-Signature` header value for `body` sent at `timestampSeconds`. */
export function signWebhookBody(secret: string, body: string | Uint8Array, timestampSeconds: number): string {
  return `t=${timestampSeconds},v1=${hmacHex(secret, timestampSeconds, body)}`
}

export type WebhookSignatureCheck =
  | { readonly ok: true; readonly timestamp: number }
  | { readonly ok: false; readonly reason: 'malformed' | 'expired' | 'mismatch' }

/**
 * Checks a `Quire-Signature` header against the raw request body (the bytes as
 * received, not re-serialized JSON): the HMAC must match and the timestamp be within
 * `toleranceSeconds` of `nowSeconds`. Never throws: a missing or garbled header is
 * `malformed`. Compares in constant time.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string | Uint8Array,
  toleranceSeconds: number = DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  nowSeconds: number = Math.floor(Date.now() / 1000)
): WebhookSignatureCheck {
  if (typeof header !== 'string') return { ok: false, reason: 'malformed' }
  let timestamp: number | null = null
  const signatures: string[] = []
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const key = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (key === 't' && /^\d{1,15}$/.test(value)) timestamp = Number(value)
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase())
  }
  if (timestamp === null || signatures.length === 0) return { ok: false, reason: 'malformed' }
  const expected = Buffer.from(hmacHex(secret, timestamp, body), 'hex')
  const matches = signatures.some((signature) => timingSafeEqual(Buffer.from(signature, 'hex'), expected))
  if (!matches) return { ok: false, reason: 'mismatch' }
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return { ok: false, reason: 'expired' }
  return { ok: true, timestamp }
}
