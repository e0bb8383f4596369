import * as Y from 'yjs'
import { walkUpdate, type ItemRefs } from './walk-update.js'

/**
 * `[0, 0]`: a Yjs update with no structs and no deletions, what a client already in sync
 * answers to sync step 1. Nothing to store, relay or acknowledge.
 */
export function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0
}

/**
 * What validating an update learned about it: its clock range per client, and whether it
 * deletes. The ranges are one flat array (client, first clock, end clock = last + 1, for
 * each client whose structs the update carries), not two Maps: every update a server
 * relays is inspected, and two Maps per keystroke were a tenth of all it allocated.
 */
export interface UpdateMeta {
  readonly ranges: readonly number[]
  readonly hasDeletes: boolean
  /** Items a `Y.Doc` would join with the item before them (see `WalkResult.joinableStructs`). */
  readonly joinableStructs: number
}

export type UpdateInspection = { readonly ok: true; readonly meta: UpdateMeta } | { readonly ok: false; readonly problem: string }

/** An update together with what validating it learned (see `DecodedMessage`). */
export interface InspectedUpdate {
  readonly update: Uint8Array
  readonly meta: UpdateMeta
}

/**
 * Is `update` a well-formed Yjs (v1) update? Decoding walks every struct and the delete
 * set, so truncated or garbage bytes fail here instead of in a peer's `applyUpdate` or
 * in the room's stored log. On success, the clock ranges and whether it deletes.
 */
export function inspectUpdate(update: Uint8Array): UpdateInspection {
  if (update.length === 0) return { ok: false, problem: 'empty update' }
  const ranges: number[] = []
  let problem: string | null = null
  try {
    const walked = walkUpdate(update, (client, clock, length, refs) => {
      // Lengths come from the wire; a negative or non-finite one means garbage.
      if (!(length >= 0) || !Number.isSafeInteger(clock) || !Number.isSafeInteger(clock + length)) {
        problem = 'struct with an impossible clock or length'
        return false
      }
      if (refs && refersForward(client, clock, refs)) {
        problem = 'struct refers to itself or to a later struct of its own client'
        return false
      }
      addRange(ranges, client, clock, clock + length)
      return true
    })
    if (problem !== null) return { ok: false, problem }
    if (walked.badClient) return { ok: false, problem: 'client id past the safe integers' }
    if (walked.badDeleteRange) return { ok: false, problem: 'empty, impossible or out-of-order delete range' }
    return { ok: true, meta: { ranges, hasDeletes: walked.hasDeletes, joinableStructs: walked.joinableStructs } }
  } catch (error) {
    return { ok: false, problem: `not a Yjs update (${error instanceof Error ? error.message : String(error)})` }
  }
}

/** Widens `client`'s range in the flat `ranges` to cover [from, to), adding it if new. */
function addRange(ranges: number[], client: number, from: number, to: number): void {
  // Updates name one client or a few, and a client's structs come together: look at the
  // last range first, then the rest.
  for (let i = ranges.length - 3; i >= 0; i -= 3) {
    if (ranges[i] !== client) continue
    if (from < (ranges[i + 1] as number)) ranges[i + 1] = from
    if (to > (ranges[i + 2] as number)) ranges[i + 2] = to
    return
  }
  ranges.push(client, from, to)
}

export function findUpdateProblem(update: Uint8Array): string | null {
  const inspection = inspectUpdate(update)
  return inspection.ok ? null : inspection.problem
}

/**
 * What validation learns about a well-formed update, worked out by walking it: for
 * updates that did not come through `decodeMessage` (stored ones, a diff). Throws if the
 * update is malformed.
 */
export function updateMetaOf(update: Uint8Array): UpdateMeta {
  const inspection = inspectUpdate(update)
  if (!inspection.ok) throw new Error(`invalid update: ${inspection.problem}`)
  return inspection.meta
}

/**
 * Decoding checks the bytes, not the structure, and Yjs trusts what it applies: the
 * server's fuzz test found updates that decode but throw in every client applying
 * them. An item's origin, right origin and parent existed before it was created, so
 * one of its own client's ids among them must have a lower clock; pointing at itself or
 * later is a forgery (and made Yjs read past its structs). A zero-length delete range
 * never comes from Yjs either (and hit an "Unexpected case" in clients).
 */
function refersForward(client: number, clock: number, refs: ItemRefs): boolean {
  return (
    (refs.hasOrigin && refs.originClient === client && refs.originClock >= clock) ||
    (refs.hasRight && refs.rightClient === client && refs.rightClock >= clock) ||
    (refs.hasParentId && refs.parentClient === client && refs.parentClock >= clock)
  )
}

/**
 * Is `stateVector` a well-formed encoded state vector? Sync step 1 carries one, and the
 * server feeds it to `Y.diffUpdate`, which must not be handed garbage.
 */
export function findStateVectorProblem(stateVector: Uint8Array): string | null {
  try {
    const decoded = Y.decodeStateVector(stateVector)
    for (const clock of decoded.values()) {
      if (!Number.isSafeInteger(clock) || clock < 0) return 'state vector with an impossible clock'
    }
    return null
  } catch (error) {
    return `not a state vector (${error instanceof Error ? error.message : String(error)})`
  }
}
