/**
 * Order statistics for repeated measurements. Percentiles use the nearest-rank
 * definition so that p99 of 100 samples is the 99th smallest, and an infinite
 * sample (a delivery that never arrived) pushes the percentile to Infinity
 * instead of being dropped.
 */

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  const index = Math.min(sorted.length - 1, Math.max(0, rank - 1))
  return sorted[index] as number
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  if (sorted.length % 2 === 1) return sorted[middle] as number
  return ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

export interface Spread {
  median: number
  min: number
  max: number
  /** (max - min) / median, so a reader sees how much the repetitions disagree. */
  relative: number
}

export function spreadOf(values: readonly number[]): Spread {
  const finite = values.filter((value) => Number.isFinite(value))
  const m = median(values)
  if (finite.length === 0) return { median: m, min: Number.NaN, max: Number.NaN, relative: Number.NaN }
  const min = Math.min(...finite)
  const max = Math.max(...finite)
  return { median: m, min, max, relative: m === 0 ? 0 : (max - min) / Math.abs(m) }
}
