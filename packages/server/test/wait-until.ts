/**
 * Polls `condition` until it holds (tests wait for conditions, never for fixed times).
 * On timeout it throws with `describe()`'s account of what was still wrong, so a hang
 * reads as a precise failure instead of a generic test timeout. The condition may be
 * asynchronous (a request to the server, say); the next poll waits for it.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; describe?: () => string } = {}
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 15_000
  const started = Date.now()
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`condition not met within ${timeoutMs} ms${options.describe ? `: ${options.describe()}` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * Polls an asynchronous `probe` (an HTTP request, a query) until it returns a value other
 * than undefined, and returns that value; throws with `describe()` on timeout, like waitUntil.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {}
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 15_000
  const started = Date.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() - started > timeoutMs) {
      throw new Error(`condition not met within ${timeoutMs} ms${options.describe ? `: ${options.describe()}` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20))
  }
}
