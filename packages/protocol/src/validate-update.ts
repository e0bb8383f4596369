import * as Y from 'yjs'

/**
 * Is `update` a well-formed Yjs (v1) update? Decoding walks every struct and the delete
 * set, so truncated or garbage bytes fail here instead of in a peer's `applyUpdate` or
 * in the room's stored log. Returns a reason on failure, `null` when well formed.
 */
export function findUpdateProblem(update: Uint8Array): string | null {
  if (update.length === 0) return 'empty update'
  try {
    const { structs } = Y.decodeUpdate(update)
    for (const struct of structs) {
      // Lengths come from the wire; a negative or non-finite one means garbage.
      if (!(struct.length >= 0) || !Number.isSafeInteger(struct.id.clock)) return 'struct with an impossible clock or length'
    }
  } catch (error) {
    return `not a Yjs update (${error instanceof Error ? error.message : String(error)})`
  }
  // Decoding checks the bytes, not the structure. Yjs trusts what it applies, so an
  // update whose structs contradict each other (an origin inside the struct itself, a
  // zero-length delete range: found by the server's fuzz test) would throw in every
  // client that applies it. Integrating it alone into a scratch document finds those;
  // whatever it references outside itself just stays pending there.
  const probe = new Y.Doc()
  try {
    Y.applyUpdate(probe, update)
    return null
  } catch (error) {
    return `update cannot be integrated (${error instanceof Error ? error.message : String(error)})`
  } finally {
    probe.destroy()
  }
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
