/**
 * Browsers send an `Origin` header with every WebSocket upgrade, and any web page may
 * open a socket to any server; the allow-list is how a server refuses pages it does not
 * serve. Non-browser clients send no Origin and are not affected (they are not confined
 * by the same-origin policy anyway, so the header would prove nothing).
 */
export interface OriginAllowList {
  /** Null when allowed; otherwise the refusal reason. */
  check(origin: string | undefined): string | null
}

/** `allowed` undefined means every origin is allowed. Origins compare normalised (`https://a.example`). */
export function createOriginAllowList(allowed: readonly string[] | undefined): OriginAllowList {
  if (allowed === undefined) return { check: () => null }
  const set = new Set(allowed.map(normaliseOrigin))
  return {
    check(origin) {
      if (origin === undefined) return null
      return set.has(normaliseOrigin(origin)) ? null : `origin ${origin} is not allowed`
    }
  }
}

function normaliseOrigin(origin: string): string {
  try {
    const url = new URL(origin)
    // `null` (sandboxed frames, file://) has no URL origin; keep it literal.
    return url.origin === 'null' ? origin.trim().toLowerCase() : url.origin
  } catch {
    return origin.trim().toLowerCase()
  }
}
