/**
 * `work`'s value if it settles within `ms`, else `onTimeout`; the timer is cleared either
 * way, so a bounded wait never holds the process open. A rejection of `work` passes
 * through: callers that count a failure as an answer map it before.
 */
export function resolveWithin<T>(work: Promise<T>, ms: number, onTimeout: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}
