import type { AwarenessEntry } from '@quire/protocol'

/**
 * Presence of one room, kept as the JSON strings peers sent (the server never parses
 * them beyond validation). Each client id belongs to the connection that last sent its
 * state, so when that socket closes the server can tell everyone the client is gone,
 * as y-protocols' Awareness would after its timeout, but at once.
 */
export interface AwarenessRegistry<Owner> {
  /** Records entries sent by `owner`; returns whether anything changed. */
  apply(entries: readonly AwarenessEntry[], owner: Owner): void
  /** Every known non-null state (of the owners `keep` accepts, if given), for a newcomer or a query-awareness. */
  entries(keep?: (owner: Owner) => boolean): AwarenessEntry[]
  /** Removes the clients `owner` controlled and returns their removal entries (state null, clock + 1). */
  removeOwner(owner: Owner): AwarenessEntry[]
  /** The states (JSON strings) of the clients `owner` controls. */
  statesOf(owner: Owner): string[]
  readonly size: number
}

interface Presence<Owner> {
  clock: number
  state: string
  owner: Owner
}

const NULL_STATE = 'null'

export function createAwarenessRegistry<Owner>(): AwarenessRegistry<Owner> {
  return new PresenceMap<Owner>()
}

// A class, not closures: one per open room, and prototype methods cost nothing per room.
class PresenceMap<Owner> implements AwarenessRegistry<Owner> {
  private readonly clients = new Map<number, Presence<Owner>>()

  apply(entries: readonly AwarenessEntry[], owner: Owner): void {
    for (const { clientId, clock, state } of entries) {
      const current = this.clients.get(clientId)
      // The same rule as y-protocols: newer clocks win; a removal at the same clock wins too.
      if (current && !(current.clock < clock || (current.clock === clock && state === NULL_STATE))) continue
      if (state === NULL_STATE) this.clients.delete(clientId)
      else this.clients.set(clientId, { clock, state, owner })
    }
  }

  entries(keep?: (owner: Owner) => boolean): AwarenessEntry[] {
    const out: AwarenessEntry[] = []
    for (const [clientId, p] of this.clients) if (keep === undefined || keep(p.owner)) out.push({ clientId, clock: p.clock, state: p.state })
    return out
  }

  removeOwner(owner: Owner): AwarenessEntry[] {
    const removed: AwarenessEntry[] = []
    for (const [clientId, p] of this.clients) {
      if (p.owner !== owner) continue
      this.clients.delete(clientId)
      removed.push({ clientId, clock: p.clock + 1, state: NULL_STATE })
    }
    return removed
  }

  statesOf(owner: Owner): string[] {
    const states: string[] = []
    for (const p of this.clients.values()) if (p.owner === owner) states.push(p.state)
    return states
  }

  get size(): number {
    return this.clients.size
  }
}
