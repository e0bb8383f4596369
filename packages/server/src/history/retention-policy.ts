import type { VersionInfo } from '../storage/version-store.js'

/**
 * Which automatic versions a history keeps. Named and restore versions are always kept,
 * and so is the newest version (the head every new version diffs against). A policy is a
 * list of age bands, written `1d,30d:1d,*:7d`: every automatic version younger than a
 * day; one a day (the newest of each day) up to 30 days; one a week after that. A band
 * is `AGE` (keep all up to AGE) or `AGE:EVERY` (one per EVERY up to AGE), AGE `*` for
 * no limit; versions older than the last band are dropped unless it is `*`. Units: `s`,
 * `m`, `h`, `d`, `w`. `*` alone keeps everything.
 */
export interface RetentionBand {
  /** Up to this age (ms); Infinity for `*`. */
  readonly upTo: number
  /** One version per this many ms (aligned to the epoch); 0 keeps them all. */
  readonly every: number
}

export type RetentionPolicy = readonly RetentionBand[]

export const DEFAULT_RETENTION = '1d,30d:1d,*:7d'

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }

function parseAge(text: string): number | null {
  if (text === '*') return Number.POSITIVE_INFINITY
  const match = /^(\d+)(ms|[smhdw])$/.exec(text)
  if (!match) return null
  const ms = match[2] === 'ms' ? Number(match[1]) : Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? NaN)
  return Number.isSafeInteger(ms) && ms > 0 ? ms : null
}

/** Reads a policy; the error says what is wrong. */
export function parseRetention(text: string): { readonly ok: true; readonly policy: RetentionPolicy } | { readonly ok: false; readonly message: string } {
  const bands: RetentionBand[] = []
  for (const part of text.split(',').map((p) => p.trim())) {
    const [ageText = '', everyText, extra] = part.split(':')
    const upTo = parseAge(ageText)
    const every = everyText === undefined ? 0 : parseAge(everyText)
    if (upTo === null || every === null || every === Number.POSITIVE_INFINITY || extra !== undefined) {
      return { ok: false, message: `"${part}" is not a band like 1d, 30d:1d or *:7d (units s, m, h, d, w)` }
    }
    const last = bands.at(-1)
    if (last !== undefined && upTo <= last.upTo) return { ok: false, message: `bands must grow older: "${part}" comes after a band up to the same age or older` }
    bands.push({ upTo, every })
  }
  return { ok: true, policy: bands }
}

/** The ids of the versions `policy` drops at `now`, of `versions` (oldest first, as stored). */
export function versionsToThin(versions: readonly VersionInfo[], policy: RetentionPolicy, now: number): number[] {
  const drop: number[] = []
  const seenBuckets = new Set<string>()
  // Newest first: in each bucket the newest version stays.
  for (let i = versions.length - 1; i >= 0; i--) {
    const version = versions[i] as VersionInfo
    if (version.kind !== 'auto' || i === versions.length - 1) continue
    const age = now - version.createdAt
    const bandIndex = policy.findIndex((band) => age < band.upTo)
    const band = policy[bandIndex]
    if (band === undefined) {
      drop.push(version.id)
      continue
    }
    if (band.every === 0) continue
    const bucket = `${bandIndex}:${Math.floor(version.createdAt / band.every)}`
    if (seenBuckets.has(bucket)) drop.push(version.id)
    else seenBuckets.add(bucket)
  }
  return drop.reverse()
}
