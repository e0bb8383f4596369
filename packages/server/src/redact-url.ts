/**
 * Query parameters whose values are secrets: a room token (`?token=`, how browsers pass
 * one, since a WebSocket cannot set headers), API keys, share tokens. Matched ignoring case.
 */
const SECRET_PARAMS = new Set(['token', 'access_token', 'api_key', 'apikey', 'key', 'secret', 'password', 'auth', 'authorization'])

/**
 * A request URL fit for a log line: the values of secret query parameters replaced by
 * `[redacted]`. The path stays (it names the room or the route). Works on the raw
 * `request.url` (path and query), without parsing the path.
 */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?')
  if (queryStart < 0) return url
  const pairs = url.slice(queryStart + 1).split('&')
  let changed = false
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as string
    const eq = pair.indexOf('=')
    const name = eq < 0 ? pair : pair.slice(0, eq)
    let decoded: string
    try {
      decoded = decodeURIComponent(name).toLowerCase()
    } catch {
      decoded = name.toLowerCase()
    }
    if (SECRET_PARAMS.has(decoded)) {
      pairs[i] = `${name}=[redacted]`
      changed = true
    }
  }
  return changed ? `${url.slice(0, queryStart)}?${pairs.join('&')}` : url
}
