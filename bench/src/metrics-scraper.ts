import { get } from 'node:http'

/**
 * Reads a server's metrics every `intervalMs`, as Prometheus does (15 s is the interval
 * most setups configure), and throws the text away. A server whose metrics start with
 * the first scrape (prom-client's process defaults in Quire) pays for them only when
 * someone scrapes, so a measurement of what metrics cost must scrape.
 */
export interface MetricsScraper {
  /** Stops scraping; resolves with how many scrapes were answered 200. */
  stop(): Promise<number>
}

export const SCRAPE_INTERVAL_MS = 15_000

/** `wsUrl` is the server's ws://host:port; `path` where it serves its metrics. */
export function startMetricsScraper(wsUrl: string, path: string, intervalMs = SCRAPE_INTERVAL_MS): MetricsScraper {
  const url = new URL(path, wsUrl.replace(/^ws/, 'http'))
  let answered = 0
  let inFlight: Promise<void> = Promise.resolve()
  const scrape = (): void => {
    inFlight = new Promise((resolve) => {
      const request = get(url, (response) => {
        if (response.statusCode === 200) answered++
        response.resume()
        response.once('end', resolve)
        response.once('error', () => resolve())
      })
      // A failed scrape is not the bench's business: the next one tries again.
      request.once('error', () => resolve())
      request.setTimeout(intervalMs, () => request.destroy())
    })
  }
  // The first scrape at once: that is when the process defaults start observing.
  scrape()
  const timer = setInterval(scrape, intervalMs)
  return {
    async stop() {
      clearInterval(timer)
      await inFlight
      return answered
    }
  }
}
