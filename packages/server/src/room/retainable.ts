/** A view filling at least this share of its buffer is kept instead of copied: at most a third wasted. */
const RETAIN_VIEW_FILL = 0.75

/**
 * `bytes` in a form fit for a room to keep past the current turn (a server memory
 * policy). `decodeMessage` hands out views of the received frame, and a view keeps its
 * whole buffer alive: a socket read can hold many frames. A view that fills most of its
 * buffer (Node gives each socket read a buffer of exactly the bytes read, so a large
 * update usually arrives alone in one) is kept as it is: copying it would cost a second
 * allocation of the same size and leave the first as a hole in the malloc heap once it
 * is collected. Anything smaller is copied into a buffer of its own.
 */
export function retainable(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength >= bytes.buffer.byteLength * RETAIN_VIEW_FILL) return bytes
  // Not bytes.slice(): on a Buffer that is a view, not a copy.
  return new Uint8Array(bytes)
}
