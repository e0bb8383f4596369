import type { RunningServer } from './server-process.js'

/**
 * Waits until the server (or the processes whose CPU `server` sums) has used less than `idleCpuFraction` of a core over
 * `quietMs`, i.e. its queued work (storage writes, compaction, GC) is done, or
 * until `timeoutMs`. Returns whether it went quiet.
 */
export async function waitForServerIdle(
  server: Pick<RunningServer, 'cpuSeconds'>,
  { quietMs = 500, idleCpuFraction = 0.03, timeoutMs = 60_000 } = {}
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  let previous = server.cpuSeconds()
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, quietMs))
    const now = server.cpuSeconds()
    if (now - previous <= (quietMs / 1000) * idleCpuFraction) return true
    previous = now
  }
  return false
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
