import type { Peer } from './peer.js'

/**
 * Who wrote to a room since its last version, for the version history. A peer with an
 * identity (a token subject, "api") counts by it at once. Without one (no auth
 * configured), it counts by the display name its presence publishes (`user.name` in the
 * awareness state, as the demo and most Yjs editors set it), read when it writes, or
 * when its presence arrives if that comes after its first edit, or at the latest when
 * the version is taken. A peer that never published a name is "anonymous".
 *
 * `noteWriter` runs for every accepted update, so a writer's presence is looked up (a
 * walk over the room's presence) and parsed once per version, not once per keystroke.
 */
export class RoomAuthors {
  private readonly names = new Set<string>()
  /** Writers whose name is in `names` already, since the last `take`. */
  private readonly named = new Set<Peer>()
  private readonly unnamed = new Set<Peer>()

  constructor(private readonly presenceOf: (peer: Peer) => readonly string[]) {}

  /** `writer` wrote. */
  noteWriter(writer: Peer): void {
    if (typeof writer.author === 'string') this.names.add(writer.author)
    else if (this.named.has(writer) || this.unnamed.has(writer)) return
    else if (this.addNames(this.presenceOf(writer))) this.named.add(writer)
    else this.unnamed.add(writer)
  }

  /** `peer` published presence: a writer without a name yet may have one now. */
  notePresence(peer: Peer): void {
    if (this.unnamed.has(peer) && this.addNames(this.presenceOf(peer))) {
      this.unnamed.delete(peer)
      this.named.add(peer)
    }
  }

  /** The authors so far, sorted, and the list starts again. */
  take(): string[] {
    for (const peer of this.unnamed) if (!this.addNames(this.presenceOf(peer))) this.names.add('anonymous')
    this.unnamed.clear()
    this.named.clear()
    const authors = [...this.names].sort()
    this.names.clear()
    return authors
  }

  /** Adds the display names in `states`; whether there was one. */
  private addNames(states: readonly string[]): boolean {
    let named = false
    for (const state of states) {
      const name = displayNameOf(state)
      if (name !== null) {
        this.names.add(name)
        named = true
      }
    }
    return named
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
