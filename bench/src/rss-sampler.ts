import { readRssBytes } from './process-stats.js'

/**
 * Reads a process's RSS every `intervalMs` until stopped and keeps the highest: the peak
 * of a burst that is over before anyone could read it by hand. A process that has exited
 * is no longer read.
 */
export interface RssSampler {
  /** Stops sampling (after one last read) and returns the highest RSS seen, in bytes. */
  stop(): number
}

export function sampleRss(pid: number, intervalMs: number): RssSampler {
  let peak = 0
  let alive = true
  const read = (): void => {
    if (!alive) return
    try {
      peak = Math.max(peak, readRssBytes(pid))
    } catch {
      alive = false
    }
  }
  read()
  const timer = setInterval(read, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      read()
      return peak
    }
  }
}
