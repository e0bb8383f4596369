import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { serveHeapFlags } from '../src/cli/serve-heap-flags.js'

const CHILD = fileURLToPath(new URL('./fixtures/young-generation-child.mjs', import.meta.url))

describe('serveHeapFlags', () => {
  it('keeps both generations from holding on to a burst by default', () => {
    expect(serveHeapFlags([])).toEqual(['--semi-space-growth-factor=1', '--heap-growing-percent=25'])
    expect(serveHeapFlags(['--enable-source-maps', '--max-old-space-size=4096'])).toEqual([
      '--semi-space-growth-factor=1',
      '--heap-growing-percent=25'
    ])
  })

  it("uses the operator's flags of a family instead of ours, in either spelling", () => {
    expect(serveHeapFlags(['--max-semi-space-size=64'])).toEqual(['--max-semi-space-size=64', '--heap-growing-percent=25'])
    expect(serveHeapFlags(['--max_semi_space_size=64'])).toEqual(['--max_semi_space_size=64', '--heap-growing-percent=25'])
    expect(serveHeapFlags(['--heap-growing-percent=100'])).toEqual(['--semi-space-growth-factor=1', '--heap-growing-percent=100'])
    expect(serveHeapFlags(['--heap_growing_percent=0', '--semi-space-growth-factor=2'])).toEqual(['--semi-space-growth-factor=2', '--heap_growing_percent=0'])
  })
})

describe('heap flags and worker threads', () => {
  // The child applies the flags as `quire serve` does, starts a worker, then allocates
  // garbage and reports the young generation's size (see the fixture).
  const youngGenerationMiB = (reapply: boolean): number =>
    Number(execFileSync(process.execPath, [CHILD, reapply ? 'reapply' : 'once'], { encoding: 'utf8' }).trim())

  it('the young generation stays small after a worker started, because the flags are applied again then', () => {
    expect(youngGenerationMiB(true)).toBeLessThanOrEqual(4)
  })

  it('(control) applied only at start-up, the flags are gone once a worker started', () => {
    // Node's behaviour this guards against; if a Node release stops resetting the flags,
    // this control fails and the re-application can go.
    expect(youngGenerationMiB(false)).toBeGreaterThan(8)
  })
})
