import { setFlagsFromString } from 'node:v8'

/**
 * Keeps V8's young generation at its starting size for the `serve` process. A sync
 * server's allocations are short-lived (a frame, a decode), but bursts such as a
 * thousand clients uploading their documents at once make V8 grow the young generation
 * to 32 MiB, and it never gives that back: 32 KiB per document across a thousand open
 * documents, more than the documents themselves. The growth factor is read each time
 * V8 considers growing, so setting it at start-up takes effect, unlike the semi-space
 * size flags. An operator who sets any of them in NODE_OPTIONS or on the command line
 * keeps theirs.
 */
export function keepYoungGenerationSmall(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  if (given.some((flag) => /semi[-_]space/.test(flag))) return
  setFlagsFromString('--semi-space-growth-factor=1')
}
