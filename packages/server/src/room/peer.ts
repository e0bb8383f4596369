import type { InspectedUpdate } from '@quire/protocol'

/**
 * What a room knows of a connection: where to send frames, and where to send
 * acknowledgements once that connection's updates are durable. Keeping it this small
 * lets rooms and the commit queue work without knowing about sockets.
 */
export interface Peer {
  readonly id: number
  /**
   * Who this peer is in a version's authors (see history/): a token subject, "api" for
   * the document API. Null or absent: the display name its presence publishes.
   */
  readonly author?: string | null
  send(frame: Uint8Array): void
  /** Sends `frames` in order, in as few socket writes as the transport allows. */
  sendAll(frames: readonly Uint8Array[]): void
  /**
   * Whether this peer wants to hear which of its updates are durable (it opted in to
   * the Quire extension). For peers that do not, the commit queue keeps no bookkeeping.
   */
  readonly acknowledging: boolean
  /** `updates` (all sent by this peer, with what validation learned of them) are now durable. */
  acknowledge(updates: readonly InspectedUpdate[]): void
  /** The room is going away for good (its document was deleted): close with `code` and `reason`. */
  disconnect(code: number, reason: string): void
}
