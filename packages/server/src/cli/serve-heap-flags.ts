import { setFlagsFromString } from 'node:v8'

/**
 * V8 flags `quire serve` sets for itself before it loads: both keep memory a burst of
 * work took from being kept once the burst is over. Where the operator set a flag of a
 * family (NODE_OPTIONS or node's own command line), theirs is used instead.
 *
 * - `--semi-space-growth-factor=1` keeps the young generation at its starting size. A
 *   sync server's allocations are short-lived (a frame, a decode), but a thousand clients
 *   uploading their documents at once make V8 grow it to 32 MiB, which it never gives
 *   back: 32 KiB per document across a thousand open documents. The growth factor is
 *   read each time V8 considers growing, so setting it at start-up takes effect, unlike
 *   the semi-space size flags.
 * - `--heap-growing-percent=25` lets the old generation grow by a quarter between full
 *   collections, where V8 picks a factor of up to 4 for a small heap. What a sync
 *   server promotes there is mostly garbage (frames, copies, closed connections) whose
 *   ArrayBuffers stay allocated outside V8's heap until the next full collection, and
 *   leave holes in the malloc heap that are seldom given back. The documents themselves
 *   are bytes outside V8's heap, so a full collection has little to mark. Measured with
 *   `pnpm bench --scenario memory`: 31.9 KiB per open document without it, 18.4 with it,
 *   for about a tenth more CPU per stored update.
 *
 * Node 20 undoes these flags, the operator's command-line ones included, whenever it
 * starts a worker thread (seen on Node 20.20: after the compaction worker's first start,
 * the young generation grew to 32 MiB as if no flag had been set, and a thousand open
 * documents cost 75 KiB each instead of 27). So they are applied again each time the
 * compaction worker starts, the operator's with ours.
 */
export function serveHeapFlags(operatorFlags: readonly string[]): string[] {
  const families = [/semi[-_]space/, /heap[-_]growing/]
  const defaults = ['--semi-space-growth-factor=1', '--heap-growing-percent=25']
  return families.flatMap((family, i) => {
    const theirs = operatorFlags.filter((flag) => family.test(flag))
    return theirs.length > 0 ? theirs : [defaults[i] as string]
  })
}

/** Applies `serveHeapFlags` to this process (at start-up, and again after a worker starts). */
export function applyServeHeapFlags(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  for (const flag of serveHeapFlags(given)) setFlagsFromString(flag)
}
