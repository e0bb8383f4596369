/**
 * What a room token allows, read from its claims so the page can show a
 * read-only editor before anyone types. The token is a JWT signed by the
 * server (`quire token`, claims: sub, room or roomPrefix, access, exp); the
 * page cannot and need not verify it: the server enforces access on every
 * update, this only decides what the UI offers.
 */
export type TokenAccess = 'read' | 'write'

export function readTokenAccess(token: string): TokenAccess | null {
  const payload = token.split('.')[1]
  if (payload === undefined || payload === '') return null
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '=')
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (char) => char.charCodeAt(0)))
    const claims: unknown = JSON.parse(json)
    const access = typeof claims === 'object' && claims !== null ? (claims as { access?: unknown }).access : undefined
    return access === 'read' || access === 'write' ? access : null
  } catch {
    // Not a JWT we can read: treat it as opaque and let the server decide.
    return null
  }
}
