// The package ships no types; this is the shape its README documents (prom2json's output).
declare module 'parse-prometheus-text-format' {
  interface PrometheusSample {
    readonly labels?: Readonly<Record<string, string>>
    /** Counters, gauges, untyped. */
    readonly value?: string
    /** Histograms: upper bound -> cumulative count. */
    readonly buckets?: Readonly<Record<string, string>>
    readonly count?: string
    readonly sum?: string
  }
  interface PrometheusFamily {
    readonly name: string
    readonly help: string
    readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
    readonly metrics: readonly PrometheusSample[]
  }
  /** Throws `InvalidLineError` on a line that is not valid text format. */
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[]
}
