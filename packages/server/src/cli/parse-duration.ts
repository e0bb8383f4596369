const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 }

/** Reads `90`, `90s`, `30m`, `1h` or `7d` as a number of seconds (> 0). */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim())
  const seconds = match ? Number(match[1]) * (UNIT_SECONDS[match[2] || 's'] ?? 1) : NaN
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new Error(`--ttl must be a duration like 90s, 30m, 1h or 7d, got "${text}"`)
  }
  return seconds
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Reads `50ms`, `2s`, `10m`, `1h`, `1d` (a bare number is seconds) as milliseconds (> 0); the error names `flag`. */
export function parseDurationMs(text: string, flag: string): number {
  const match = /^(\d+)(ms|[smhd]?)$/.exec(text.trim())
  const ms = match ? Number(match[1]) * (UNIT_MS[match[2] || 's'] ?? 1000) : NaN
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new Error(`--${flag} must be a duration like 500ms, 2s, 10m or 1h, got "${text}"`)
  return ms
}
