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
