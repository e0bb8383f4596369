/**
 * A small seeded generator (mulberry32) for protocol tests, which do not depend on the
 * testkit (the testkit depends on the server, which depends on this package).
 */
export interface Seeded {
  next(): number
  int(min: number, max: number): number
  bool(p: number): boolean
  pick<T>(items: readonly T[]): T
  string(length: number): string
}

export function seeded(seed: number): Seeded {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    bool: (p) => next() < p,
    pick: (items) => items[int(0, items.length - 1)] as (typeof items)[number],
    string: (length) => Array.from({ length }, () => String.fromCharCode(97 + int(0, 25))).join('')
  }
}
