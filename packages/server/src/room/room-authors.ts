import type { Peer } from './peer.js'

/**
 * Who wrote to a room since its last version, for the version history. A peer with an
 * identity (a token subject, "api") counts by it at once. Without one (no auth
 * configured), it counts by the display name its presence publishes (`user.name` in the
 * awareness state, as the demo and most Yjs editors set it): read when the version is
 * taken or when the peer leaves, whichever comes first, since presence may arrive after
 * the first edit and is gone once the peer left. A peer that never published a name is
 * "anonymous".
 */
export class RoomAuthors {
  private readonly names = new Set<string>()
  private readonly unnamed = new Set<Peer>()

  noteWriter(writer: Peer): void {
    if (typeof writer.author === 'string') this.names.add(writer.author)
    else this.unnamed.add(writer)
  }

  /** `peer` leaves: its name is read now, from its presence still there. */
  noteLeaving(peer: Peer, states: readonly string[]): void {
    if (!this.unnamed.delete(peer)) return
    this.addNames(states)
  }

  /** The authors so far, sorted, and the list starts again. */
  take(presenceOf: (peer: Peer) => readonly string[]): string[] {
    for (const peer of this.unnamed) this.addNames(presenceOf(peer))
    this.unnamed.clear()
    const authors = [...this.names].sort()
    this.names.clear()
    return authors
  }

  private addNames(states: readonly string[]): void {
    let named = false
    for (const state of states) {
      const name = displayNameOf(state)
      if (name !== null) {
        this.names.add(name)
        named = true
      }
    }
    if (!named) this.names.add('anonymous')
  }
}

/** `user.name` of an awareness state (JSON), or null. */
function displayNameOf(state: string): string | null {
  try {
    const parsed: unknown = JSON.parse(state)
    if (typeof parsed !== 'object' || parsed === null) return null
    const user = (parsed as { user?: unknown }).user
    if (typeof user !== 'object' || user === null) return null
    const name = (user as { name?: unknown }).name
    return typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, 200) : null
  } catch {
    return null
  }
}
