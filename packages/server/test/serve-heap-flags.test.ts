import { describe, expect, it } from 'vitest'
import { serveHeapFlags } from '../src/cli/serve-heap-flags.js'

describe('serveHeapFlags', () => {
  it('keeps both generations from holding on to a burst by default', () => {
    expect(serveHeapFlags([])).toEqual(['--semi-space-growth-factor=1', '--heap-growing-percent=25'])
    expect(serveHeapFlags(['--enable-source-maps', '--max-old-space-size=4096'])).toEqual([
      '--semi-space-growth-factor=1',
      '--heap-growing-percent=25'
    ])
  })

  it("leaves a family alone when the operator set one of its flags, in either spelling", () => {
    expect(serveHeapFlags(['--max-semi-space-size=64'])).toEqual(['--heap-growing-percent=25'])
    expect(serveHeapFlags(['--max_semi_space_size=64'])).toEqual(['--heap-growing-percent=25'])
    expect(serveHeapFlags(['--heap-growing-percent=100'])).toEqual(['--semi-space-growth-factor=1'])
    expect(serveHeapFlags(['--heap_growing_percent=0', '--semi-space-growth-factor=2'])).toEqual([])
  })
})
