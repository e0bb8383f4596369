import { describe, expect, it } from 'vitest'
import { readSeeds, runWithSeed } from '../src/index.js'
import { TRICKY_SUITE } from './repro-line-names.js'

/**
 * The target of repro-line.test.ts, which runs this file in a nested vitest. In a normal
 * run every case passes. With QUIRE_REPRO_TARGET_FAIL=<seed>, the case of that seed in the
 * first suite fails through runWithSeed, which prints the line that should rerun it.
 *
 * The names are built to trip a careless line: regex and shell characters in the suite
 * name, "(seed 1)" beside "(seed 12)" (a prefix of it), and the same test name in a second
 * suite.
 */

const failSeed = process.env['QUIRE_REPRO_TARGET_FAIL']

function seededCase(seed: number): Promise<void> {
  return runWithSeed('a seeded case', seed, (prng) => {
    const drawn = prng.int(0, 1_000_000)
    if (String(seed) === failSeed) expect.fail(`deliberate failure of seed ${seed} (drew ${drawn})`)
  })
}

describe(TRICKY_SUITE, () => {
  it.each(readSeeds([1, 12]))('a seeded case (seed %i)', seededCase)
  it('a seeded case (seed 1) and more', () => {})
})

describe('another suite', () => {
  it.each(readSeeds([1, 12]))('a seeded case (seed %i)', async (seed) => {
    await runWithSeed('a seeded case', seed, () => {})
  })
})
