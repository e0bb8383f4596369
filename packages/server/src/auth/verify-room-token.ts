import { errors, jwtVerify } from 'jose'
import { QuireError } from '../quire-error.js'
import { readSecret, type RoomGrant } from './room-token.js'

export interface VerifiedRoomToken {
  readonly grant: RoomGrant
  /** Expiry, seconds since the epoch. */
  readonly expiresAt: number
}

/**
 * Checks a room token's signature (HS256 only: the `alg` header cannot downgrade it),
 * expiry and claims. Every failure rejects with a QuireError 'unauthorized' whose
 * message says what was wrong, for the 4401 close reason.
 */
export async function verifyRoomToken(token: string, secret: string | Uint8Array): Promise<VerifiedRoomToken> {
  const key = readSecret(secret)
  let payload: Record<string, unknown>
  try {
    ;({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }))
  } catch (error) {
    throw new QuireError('unauthorized', describeFailure(error), { cause: error })
  }
  const { sub, access, room, roomPrefix, exp } = payload
  if (typeof sub !== 'string' || typeof exp !== 'number') throw invalid('sub and exp claims are required')
  if (access !== 'read' && access !== 'write') throw invalid('access claim must be "read" or "write"')
  if (typeof room === 'string' && roomPrefix === undefined) return { grant: { room, user: sub, access }, expiresAt: exp }
  if (typeof roomPrefix === 'string' && room === undefined) return { grant: { roomPrefix, user: sub, access }, expiresAt: exp }
  throw invalid('exactly one of the room and roomPrefix claims is required')
}

const invalid = (what: string): QuireError => new QuireError('unauthorized', `invalid token: ${what}`)

function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token expired'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'invalid token: bad signature'
  if (error instanceof errors.JOSEAlgNotAllowed) return 'invalid token: only HS256 tokens are accepted'
  if (error instanceof errors.JWTClaimValidationFailed) return `invalid token: ${error.message}`
  return 'invalid token: not a well-formed JWT'
}
