import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { assertConverged, createPrng, docFromUpdates, findDivergence, reproLine, runWithSeed } from '@quire/testkit'

/**
 * The server tests lean on the testkit's oracle and PRNG; an oracle that always says
 * "converged" would make them vacuous. These checks show it catches each kind of
 * difference, and that the PRNG is deterministic.
 */

function replicaOf(doc: Y.Doc): Y.Doc {
  return docFromUpdates([Y.encodeStateAsUpdate(doc)])
}

describe('convergence oracle', () => {
  it('accepts replicas that saw the same updates in different orders', () => {
    const a = new Y.Doc()
    const b = new Y.Doc()
    a.getText('t').insert(0, 'abc')
    b.getText('t').insert(0, 'xyz')
    b.getMap('m').set('k', 1)
    const ua = Y.encodeStateAsUpdate(a)
    const ub = Y.encodeStateAsUpdate(b)
    Y.applyUpdate(a, ub)
    Y.applyUpdate(b, ua)
    a.getText('t').delete(1, 2)
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    expect(findDivergence([a, b])).toBeNull()
    // A replica rebuilt from the update log (untyped roots) compares equal too.
    expect(findDivergence([a, b, docFromUpdates([ub, ua, Y.encodeStateAsUpdate(a)])])).toBeNull()
    assertConverged([a, b])
  })

  it('catches different text', () => {
    const a = new Y.Doc()
    a.getText('t').insert(0, 'same')
    const b = replicaOf(a)
    b.getText('t').insert(0, 'x')
    expect(findDivergence([a, b])).toMatch(/state vectors differ/)
    expect(() => assertConverged([a, b])).toThrow(/not converged/)
  })

  it('catches a missing deletion even though state vectors are equal', () => {
    const a = new Y.Doc()
    a.getText('t').insert(0, 'hello')
    const b = replicaOf(a)
    a.getText('t').delete(0, 1)
    expect(findDivergence([a, b])).toMatch(/delete sets differ/)
  })

  it('catches a replica waiting on missing updates', () => {
    const a = new Y.Doc()
    a.getText('t').insert(0, 'one')
    const first = Y.encodeStateAsUpdate(a)
    const sv = Y.encodeStateVector(a)
    a.getText('t').insert(3, ' two')
    const b = new Y.Doc()
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a, sv)) // the second update without the first
    expect(findDivergence([docFromUpdates([first]), b])).toMatch(/pending/)
  })

  it('catches different map and array contents with equal JSON elsewhere', () => {
    const a = new Y.Doc()
    a.getMap('m').set('k', 1)
    const b = replicaOf(a)
    b.getArray('a').insert(0, [1])
    expect(findDivergence([a, b])).not.toBeNull()
  })

  it('names the replicas in its message', () => {
    const a = new Y.Doc()
    const b = new Y.Doc()
    b.getText('t').insert(0, 'x')
    expect(findDivergence([a, b], { names: ['alice', 'bob'] })).toMatch(/alice.*bob/)
  })
})

describe('seeded PRNG', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const draw = (seed: number): unknown[] => {
      const prng = createPrng(seed)
      return [prng.int(0, 1000), prng.string(8), prng.bool(0.3), prng.pick(['a', 'b', 'c']), prng.next()]
    }
    expect(draw(42)).toEqual(draw(42))
    expect(draw(42)).not.toEqual(draw(43))
  })

  it('stays inside the ranges it is asked for', () => {
    const prng = createPrng(7)
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) {
      const n = prng.int(-2, 2)
      expect(n).toBeGreaterThanOrEqual(-2)
      expect(n).toBeLessThanOrEqual(2)
      seen.add(n)
    }
    expect([...seen].sort()).toEqual([-1, -2, 0, 1, 2])
    expect(prng.string(50)).toHaveLength(50)
    expect(() => prng.pick([])).toThrow()
  })

  it('prints a repro line and adds it to the failure', async () => {
    const failing = runWithSeed('some test', 99, () => {
      throw new Error('boom')
    })
    // The line names this file and this test (see packages/testkit/test/repro-line.test.ts
    // for a line run as printed).
    const line = reproLine(99, { file: 'packages/server/test/convergence-oracle.test.ts', names: ['seeded PRNG', 'prints a repro line and adds it to the failure'] })
    expect(line).toMatch(/^(QUIRE_EXTENSIVE=1 )?QUIRE_SEED=99 pnpm vitest run 'packages\/server\/test\/convergence-oracle.test.ts' -t '\^seeded PRNG\(\?: > \| \)prints a repro line and adds it to the failure\$'$/)
    await expect(failing).rejects.toThrow(`(seed 99; rerun with: ${line})`)
  })
})
