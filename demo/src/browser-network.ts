/**
 * Follows the browser's own idea of the network. When the operating system
 * reports no network, an open WebSocket is not closed by the browser: it
 * just stops carrying frames until a heartbeat times out, tens of seconds
 * later, and the badge would say "Saving…" the whole time. `offline` is a
 * reliable "no" (only `online` can be a false positive), so the session is
 * closed at once and reopened, without backoff, when the network returns.
 */
import type { QuireSession } from '@quire/client'

export function followBrowserNetwork(session: QuireSession): () => void {
  const goOffline = (): void => session.disconnect()
  const goOnline = (): void => session.reconnect()
  window.addEventListener('offline', goOffline)
  window.addEventListener('online', goOnline)
  if (!navigator.onLine) goOffline()
  return () => {
    window.removeEventListener('offline', goOffline)
    window.removeEventListener('online', goOnline)
  }
}
