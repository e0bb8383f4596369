import { createHash } from 'node:crypto'

/**
 * The ETag of a document as the API serves it: derived from its state vector and its
 * delete set, i.e. from everything that can change. The state vector alone would not do:
 * a deletion does not advance any clock, so a document whose only change was a deletion
 * has the same state vector as before and would be answered 304. The tag is a digest of
 * the state vector followed by the encoded document (which ends with its delete set);
 * hashing is native and cheap beside sending the bytes.
 *
 * The same content may encode to other bytes once merged differently (a room's state and
 * the same document read back from storage), so a tag may change without the content
 * changing: a needless 200, never a wrong 304. `variant` tells representations apart
 * (the update, its JSON, the state vector).
 */
export function documentEtag(stateVector: Uint8Array, update: Uint8Array | null, variant: string): string {
  const hash = createHash('sha256').update(stateVector)
  if (update !== null) hash.update(update)
  return `"${variant}-${hash.digest('base64url').slice(0, 32)}"`
}

/** Whether `If-None-Match` names `etag` (or is `*`), weak tags included. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  return ifNoneMatch.split(',').some((tag) => {
    const trimmed = tag.trim()
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`
  })
}
