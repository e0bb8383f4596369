import { spawnHaproxyWithConfig, type SpawnedHaproxy } from './haproxy-process.js'

/**
 * HAProxy in front of one server on 127.0.0.1, configured as the README's "Behind a
 * reverse proxy" tells users to: HTTP mode, `option forwardfor` (it appends the address
 * it received each request from to X-Forwarded-For), and a tunnel timeout long enough for
 * WebSockets.
 */
export interface SpawnHaproxyOptions {
  /** The server behind the proxy, on 127.0.0.1. */
  readonly backendPort: number
  /**
   * The local address HAProxy connects to the backend from (any of 127.0.0.0/8 works on
   * Linux), so that a test can tell the proxy's connections from its clients', which all
   * come from loopback too. Default: the kernel's choice, 127.0.0.1.
   */
  readonly sourceAddress?: string
}

function haproxyConfig(frontPort: number, options: SpawnHaproxyOptions): string {
  const source = options.sourceAddress === undefined ? '' : ` source ${options.sourceAddress}`
  return `global
    maxconn 4096

defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    # Once upgraded, a WebSocket is a tunnel: idle for as long as its heartbeat allows.
    timeout tunnel 1h

frontend quire_front
    bind 127.0.0.1:${frontPort}
    default_backend quire

backend quire
    server quire1 127.0.0.1:${options.backendPort}${source}
`
}

export function spawnHaproxy(options: SpawnHaproxyOptions): Promise<SpawnedHaproxy> {
  return spawnHaproxyWithConfig((frontPort) => haproxyConfig(frontPort, options))
}
