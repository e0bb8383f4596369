import { median, percentile, spreadOf } from './stats.js'

/** Renders rows as a GitHub-flavoured Markdown table with aligned columns. */

export interface Table {
  title: string
  /** Lines printed under the title: what was measured, substitutions, caveats. */
  notes: string[]
  columns: string[]
  rows: string[][]
}

export function renderTable(table: Table): string {
  const widths = table.columns.map((column, index) =>
    Math.max(column.length, 3, ...table.rows.map((row) => (row[index] ?? '').length))
  )
  const line = (cells: string[]): string =>
    '| ' + widths.map((width, index) => (cells[index] ?? '').padEnd(width)).join(' | ') + ' |'
  const separator = '|' + widths.map((width) => '-'.repeat(width + 2)).join('|') + '|'
  const notes = table.notes.map((note) => `${note}\n`).join('')
  return [`### ${table.title}\n`, notes ? `${notes}` : '', line(table.columns), separator, ...table.rows.map(line), ''].join('\n')
}

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'n/a' : '∞'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a'
  const abs = Math.abs(bytes)
  if (abs >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(2)} MiB`
  if (abs >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${Math.round(bytes)} B`
}

/** "1.23 (±4%)": the median with the relative spread of the repetitions. */
export function formatWithSpread(median: string, relative: number): string {
  if (!Number.isFinite(relative)) return median
  return `${median} (±${Math.round((relative * 100) / 2)}%)`
}

export function formatRatio(ours: number, theirs: number): string {
  if (!Number.isFinite(ours) || !Number.isFinite(theirs) || theirs === 0) return 'n/a'
  return `${(ours / theirs).toFixed(2)}x`
}

/** "p50 / p99" of `values` in ms, or "n/a" for none. */
export function formatP50P99(values: readonly number[]): string {
  if (values.length === 0) return 'n/a'
  const sorted = [...values].sort((a, b) => a - b)
  return `${formatNumber(percentile(sorted, 50), 1)} / ${formatNumber(percentile(sorted, 99), 1)}`
}

/** A cold measurement repeated a few times: "median (max slowest)", or "n/a" for none. */
export function formatMedianMax(values: readonly number[]): string {
  return values.length === 0 ? 'n/a' : `${formatNumber(median(values), 1)} (max ${formatNumber(Math.max(...values), 1)})`
}

/** Repeated windows: "median (lowest–highest)", just the value for one, "n/a" for none. */
export function formatMedianRange(values: readonly number[], digits = 1): string {
  if (values.length === 0) return 'n/a'
  const { median: middle, min, max } = spreadOf(values)
  return values.length === 1 ? formatNumber(middle, digits) : `${formatNumber(middle, digits)} (${formatNumber(min, digits)}–${formatNumber(max, digits)})`
}
