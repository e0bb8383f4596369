import { addDeleteSet, createDeleteRanges, subtractDeleteSet, type DeleteRanges, type DeleteSetLike } from './delete-ranges.js'

/**
 * Whether the server this document syncs with sends `quire-saved` acknowledgements:
 * `unknown` until a connection tells us, `yes` after a `quire-hello`, `no` after a sync
 * completed without one (a stock y-websocket server).
 */
export type AcknowledgementSupport = 'unknown' | 'yes' | 'no'

/**
 * Knows which local changes the server has not yet acknowledged as durable.
 *
 * Structs are tracked by clock: a local change that created structs of client `c` up to
 * clock `n` is saved once an acknowledgement's state vector reaches `n` for `c` (the
 * server commits one connection's updates in order, so reaching `n` covers everything
 * below). Deletions move no clock, so they are tracked as ranges and cleared by the
 * delete sets of acknowledgements. Nothing here depends on the current client id, so
 * the record survives a reload, where the document gets a new one.
 */
export class SaveTracker {
  /** For each client id, the clock up to which the server acknowledged our structs. */
  readonly acknowledged = new Map<number, number>()
  /** For each client id, the end clock of local structs not yet covered by `acknowledged`. */
  readonly pending = new Map<number, number>()
  /** Local deletions no acknowledgement has covered yet. */
  readonly pendingDeletions: DeleteRanges = createDeleteRanges()
  support: AcknowledgementSupport = 'unknown'

  /** Records a local change: the end clocks of its structs and its delete set. */
  recordLocalChange(endClocks: ReadonlyMap<number, number>, deleteSet: DeleteSetLike): void {
    for (const [client, clock] of endClocks) {
      if (clock > (this.acknowledged.get(client) ?? 0) && clock > (this.pending.get(client) ?? 0)) {
        this.pending.set(client, clock)
      }
    }
    addDeleteSet(this.pendingDeletions, deleteSet)
  }

  /** Applies a `quire-saved` acknowledgement: its state vector and the delete set it made durable. */
  applyAcknowledgement(stateVector: ReadonlyMap<number, number>, deleteSet: DeleteSetLike): void {
    for (const [client, clock] of stateVector) {
      if (clock > (this.acknowledged.get(client) ?? 0)) this.acknowledged.set(client, clock)
    }
    for (const [client, clock] of this.pending) {
      if (clock <= (this.acknowledged.get(client) ?? 0)) this.pending.delete(client)
    }
    subtractDeleteSet(this.pendingDeletions, deleteSet)
  }

  /** True while some local change (structs or deletions) waits for an acknowledgement. */
  get hasUnsavedChanges(): boolean {
    return this.pending.size > 0 || this.pendingDeletions.size > 0
  }

  /**
   * Clients whose pending structs a sync step 2 would not carry because the server's
   * state vector already reaches them (it got them, but its acknowledgement never
   * reached us, e.g. the socket dropped right after the commit).
   */
  clientsTheServerHasButNeverAcknowledged(serverStateVector: ReadonlyMap<number, number>): number[] {
    const clients: number[] = []
    for (const [client, clock] of this.pending) {
      if ((serverStateVector.get(client) ?? 0) >= clock) clients.push(client)
    }
    return clients
  }

  /**
   * Drops pending clocks beyond what the local document holds. The record and the
   * document's updates are written in two IndexedDB transactions; if a crash kept the
   * record but not the update, those structs exist nowhere we could send them from, and
   * waiting for their acknowledgement would keep `saved` false forever.
   */
  forgetBeyond(localStateVector: ReadonlyMap<number, number>): void {
    for (const [client, clock] of this.pending) {
      const held = localStateVector.get(client) ?? 0
      if (clock <= held) continue
      if (held <= (this.acknowledged.get(client) ?? 0)) this.pending.delete(client)
      else this.pending.set(client, held)
    }
  }

  /** Folds a record loaded from local storage into this tracker (changes made before it loaded are kept). */
  merge(other: SaveTracker): void {
    if (this.support === 'unknown') this.support = other.support
    for (const [client, clock] of other.pending) {
      if (clock > (this.pending.get(client) ?? 0)) this.pending.set(client, clock)
    }
    addDeleteSet(this.pendingDeletions, {
      clients: new Map(
        [...other.pendingDeletions].map(([client, ranges]) => [client, ranges.map(([start, end]) => ({ clock: start, len: end - start }))])
      )
    })
    this.applyAcknowledgement(other.acknowledged, { clients: new Map() })
  }
}
