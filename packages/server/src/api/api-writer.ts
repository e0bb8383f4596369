import type { InspectedUpdate } from '@quire/protocol'
import type { Peer } from '../room/peer.js'

/**
 * The writer of one `POST .../updates`, as the room and the commit queue see it: a peer
 * that never joins the room (it receives no relays) and asks to hear when its update is
 * durable, which settles `saved`. `Room.accept` acknowledges it however the update went in
 * (whole, as a diff of what the room lacked, or not at all when the room held it already).
 */
export interface ApiWriter extends Peer {
  /** Resolves once the update is durable. */
  readonly saved: Promise<void>
}

/** `author`: who the write counts as in the version history ("api" unless the caller is known). */
export function createApiWriter(id: number, author = 'api'): ApiWriter {
  let resolveSaved: () => void = () => {}
  const saved = new Promise<void>((resolve) => {
    resolveSaved = resolve
  })
  return {
    id,
    author,
    acknowledging: true,
    saved,
    send() {},
    sendAll() {},
    disconnect() {},
    acknowledge(_updates: readonly InspectedUpdate[]) {
      resolveSaved()
    }
  }
}
