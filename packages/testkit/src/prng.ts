/**
 * A small deterministic PRNG for randomized tests (mulberry32: 32 bits of state, fast,
 * good enough statistically for choosing operations; not for anything secret).
 *
 * A randomized test takes its seeds from `readSeeds(defaults)`, so a failing seed can be
 * rerun alone with `QUIRE_SEED=<seed>`, and reports failures through `runWithSeed`, which
 * prints `reproLine(seed, test)`: the exact command that reruns the failing case.
 */
import { TestRunner } from 'vitest'

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

/**
 * Which test is running, as `vitest -t` sees it: the file (relative to the workspace
 * root) and the names of the enclosing suites and of the test itself.
 */
export interface TestIdentity {
  readonly file: string | null
  readonly names: readonly string[]
}

/** The running vitest test, or null outside one. */
export function currentTestIdentity(): TestIdentity | null {
  const test = TestRunner.getCurrentTest()
  if (test === undefined) return null
  // The same chain vitest matches `-t` against (getTaskFullName in @vitest/runner): the
  // test and its enclosing suites, without the file.
  const names: string[] = []
  let task: { readonly name: string; readonly suite?: unknown } | undefined = test
  while (task !== undefined) {
    names.unshift(task.name)
    task = task.suite as typeof task
  }
  return { file: test.file.name, names }
}

/**
 * The command that reruns exactly one seed of one test: that file only, and a `-t`
 * pattern that matches that test's full name and nothing else. `-t` takes a regular
 * expression, so the name is escaped for the regex and then quoted for the shell (a name
 * such as "(seed 1)" is a regex group that matches "seed 1" without parentheses, and would
 * select no test at all). Vitest 4 joins the suite and test names with a space, vitest 5
 * with " > "; the pattern accepts either. A run in extensive mode reruns in extensive mode.
 */
export function reproLine(seed: number, test: TestIdentity, options: { extensive?: boolean } = {}): string {
  const extensive = options.extensive ?? isExtensiveRun()
  const pattern = `^${test.names.map(escapeRegExp).join('(?: > | )')}$`
  const file = test.file === null ? '' : ` ${quoteForShell(test.file)}`
  return `${extensive ? 'QUIRE_EXTENSIVE=1 ' : ''}QUIRE_SEED=${seed} pnpm vitest run${file} -t ${quoteForShell(pattern)}`
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, (ch) => `\\${ch}`)
}

/** Single quotes keep everything literal in a POSIX shell; a quote itself is closed, escaped and reopened. */
function quoteForShell(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
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
  // Taken before the run: the test that is running now is the one to rerun.
  const test = currentTestIdentity() ?? { file: null, names: [testName] }
  try {
    return await run(createPrng(seed))
  } catch (error) {
    const line = reproLine(seed, test)
    console.error(`[quire] ${testName} failed with seed ${seed}; rerun with:\n  ${line}`)
    if (error instanceof Error) {
      error.message = `${error.message}\n(seed ${seed}; rerun with: ${line})`
      throw error
    }
    throw new Error(`${String(error)}\n(seed ${seed}; rerun with: ${line})`, { cause: error })
  }
}
