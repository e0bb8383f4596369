import parsePrometheusTextFormat from 'parse-prometheus-text-format'

/**
 * A scrape of `/metrics`, parsed by a real text-format parser (parse-prometheus-text-format,
 * a port of the Prometheus Python client's parser): a line Prometheus could not read
 * throws here. Values are read by metric name and labels.
 */
export interface Scrape {
  readonly families: ReadonlyMap<string, ReturnType<typeof parsePrometheusTextFormat>[number]>
  /** A counter's or gauge's value for these labels (the sum over all its series when none are given); 0 when absent. */
  value(name: string, labels?: Readonly<Record<string, string>>): number
  /** A histogram's observation count. */
  count(name: string): number
}

export async function scrapeMetrics(url: string): Promise<Scrape> {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`)
  const contentType = response.headers.get('content-type') ?? ''
  if (!contentType.startsWith('text/plain')) throw new Error(`GET ${url}: content-type ${contentType}`)
  const families = new Map(parsePrometheusTextFormat(await response.text()).map((family) => [family.name, family]))
  const familyOf = (name: string) => {
    const family = families.get(name)
    if (family === undefined) throw new Error(`no metric ${name} in the scrape`)
    return family
  }
  return {
    families,
    value(name, labels) {
      let total = 0
      for (const sample of familyOf(name).metrics) {
        const matches = labels === undefined || Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value)
        if (matches) total += Number(sample.value ?? 0)
      }
      return total
    },
    count(name) {
      let total = 0
      for (const sample of familyOf(name).metrics) total += Number(sample.count ?? 0)
      return total
    }
  }
}
