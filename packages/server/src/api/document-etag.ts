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

/**
 * A digest of a document held as several updates (a stored log, a room's parts), for a
 * rendered answer's ETag and the render cache's key: each update's length, then its
 * bytes, so that no two different lists hash alike. Equal lists are equal documents; an
 * equal document held otherwise (after a compaction, say) gets another digest: a needless
 * 200 or render, never a wrong 304. Hashing is native, and unlike the state vector needs
 * no merge of the parts on the event loop.
 */
export function digestOfParts(parts: readonly Uint8Array[]): string {
  const hash = createHash('sha256')
  const length = new DataView(new ArrayBuffer(4))
  for (const part of parts) {
    length.setUint32(0, part.byteLength)
    hash.update(new Uint8Array(length.buffer))
    hash.update(part)
  }
  return hash.digest('base64url').slice(0, 32)
}

/** Whether `If-None-Match` names `etag` (or is `*`), weak tags included. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  return ifNoneMatch.split(',').some((tag) => {
    const trimmed = tag.trim()
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`
  })
}
