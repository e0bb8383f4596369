import type { WebSocket } from 'ws'

/**
 * Pings every socket each `intervalMs` and terminates those that did not answer the
 * previous ping. A peer whose network vanished sends no close frame and no FIN; without
 * this its presence and memory would linger until the kernel gives up on the socket.
 */
export function startHeartbeat(sockets: ReadonlySet<WebSocket>, intervalMs: number): () => void {
  const alive = new WeakMap<WebSocket, boolean>()
  // One listener for every socket (ws calls it with the socket as `this`), not a closure each.
  const markAlive = function (this: WebSocket): void {
    alive.set(this, true)
  }
  const timer = setInterval(() => {
    for (const ws of sockets) {
      if (alive.get(ws) === false) {
        ws.terminate()
        continue
      }
      if (!alive.has(ws)) ws.on('pong', markAlive)
      alive.set(ws, false)
      ws.ping()
    }
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
