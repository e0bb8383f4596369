/**
 * Where the Quire server is. A built demo is served by `quire serve` itself,
 * so the WebSocket goes to the page's own origin (and works behind any proxy
 * or TLS terminator). In `vite` dev mode the page comes from Vite, so the
 * server is `VITE_QUIRE_SERVER_URL`, by default a local `quire serve` on 1234.
 */
const DEV_DEFAULT_SERVER_URL = 'ws://127.0.0.1:1234'

export interface ServerUrlEnv {
  readonly DEV: boolean
  readonly VITE_QUIRE_SERVER_URL?: string
}

export function resolveServerUrl(location: Location, env: ServerUrlEnv): string {
  if (env.DEV) {
    const configured = env.VITE_QUIRE_SERVER_URL
    return configured !== undefined && configured !== '' ? configured : DEV_DEFAULT_SERVER_URL
  }
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`
}
