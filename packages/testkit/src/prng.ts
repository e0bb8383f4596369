/**
 * A small deterministic PRNG for randomized tests (mulberry32: 32 bits of state, fast,
 * good enough statistically for choosing operations; not for anything secret).
 *
 * A randomized test takes its seeds from `readSeeds(defaults)`, so a failing seed can be
 * rerun alone with `QUIRE_SEED=<seed>`, and reports failures through `runWithSeed`, which
 * prints `reproLine(name, seed)`: the exact command that reruns the failing case.
 */

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 éüßøå€'

export interface Prng {
  readonly seed: number
  /** Uniform float in [0, 1). */
  next(): number
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number
  /** A uniformly chosen element; throws on an empty array (a test bug, not a random outcome). */
  pick<T>(items: readonly T[]): T
  /** True with probability `p` (default 0.5). */
  bool(p?: number): boolean
  /** `length` characters from a mixed ASCII / Latin-1 / BMP alphabet (no surrogate pairs). */
  string(length: number): string
}

export function createPrng(seed: number): Prng {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number): number => {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
      throw new RangeError(`prng.int: invalid range [${min}, ${max}]`)
    }
    return min + Math.floor(next() * (max - min + 1))
  }
  return {
    seed,
    next,
    int,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('prng.pick: empty array')
      return items[int(0, items.length - 1)] as T
    },
    bool(p = 0.5): boolean {
      return next() < p
    },
    string(length: number): string {
      let out = ''
      for (let i = 0; i < length; i++) out += ALPHABET.charAt(int(0, ALPHABET.length - 1))
      return out
    }
  }
}

/** The command that reruns one seed of one test. */
export function reproLine(testName: string, seed: number): string {
  const escaped = testName.replace(/[\\"$`]/g, (ch) => `\\${ch}`)
  return `QUIRE_SEED=${seed} pnpm vitest run -t "${escaped}"`
}

/**
 * The seeds a randomized test runs: `QUIRE_SEED` alone when set (to rerun one failure),
 * otherwise the test's fixed defaults.
 */
export function readSeeds(defaults: readonly number[]): number[] {
  const fromEnv = process.env['QUIRE_SEED']
  if (fromEnv === undefined || fromEnv === '') return [...defaults]
  const seed = Number(fromEnv)
  if (!Number.isSafeInteger(seed)) throw new Error(`QUIRE_SEED must be an integer, got ${JSON.stringify(fromEnv)}`)
  return [seed]
}

/** Long randomized runs are opt-in (`pnpm test:extensive` sets QUIRE_EXTENSIVE=1). */
export function isExtensiveRun(): boolean {
  const value = process.env['QUIRE_EXTENSIVE']
  return value !== undefined && value !== '' && value !== '0'
}

/**
 * Runs one seeded case. On failure the repro line is printed and added to the error
 * message, so it shows up in the test report whatever the reporter prints.
 */
export async function runWithSeed<T>(testName: string, seed: number, run: (prng: Prng) => T | Promise<T>): Promise<T> {
  try {
    return await run(createPrng(seed))
  } catch (error) {
    const line = reproLine(testName, seed)
    console.error(`[quire] ${testName} failed with seed ${seed}; rerun with:\n  ${line}`)
    if (error instanceof Error) {
      error.message = `${error.message}\n(seed ${seed}; rerun with: ${line})`
      throw error
    }
    throw new Error(`${String(error)}\n(seed ${seed}; rerun with: ${line})`, { cause: error })
  }
}
