import { describe, expect, it } from 'vitest'
import { createDocumentRenderer } from '../src/render/document-renderer.js'
import { createRenderCache } from '../src/render/render-cache.js'
import { createRenderThread } from '../src/render/render-thread.js'
import { documentUpdate } from './render-fixtures.js'

describe('the render cache', () => {
  it('evicts the least recently used entries once over its bound in bytes, and keeps nothing larger than it', () => {
    const cache = createRenderCache<string>(100)
    cache.set('a', 'A', 40)
    cache.set('b', 'B', 40)
    expect(cache.get('a')).toBe('A') // a is now the most recently used
    cache.set('c', 'C', 40) // 120 bytes: b goes
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('a')).toBe('A')
    expect(cache.get('c')).toBe('C')
    expect(cache.bytes).toBe(80)
    cache.set('huge', 'H', 101)
    expect(cache.get('huge')).toBeUndefined()
    expect(cache.size).toBe(2)
    cache.set('a', 'A2', 10)
    expect(cache.bytes).toBe(50)
  })
})

describe('the document renderer keeps one rendered version of each document', () => {
  /** A Tiptap document of one paragraph holding `text`, as one update. */
  const paragraph = (text: string): Uint8Array => documentUpdate({ type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] })

  it('drops the render of a document\'s earlier version once the edited one is rendered, but not other documents\' or stored versions\'', async () => {
    const thread = createRenderThread({ extensionsModule: undefined })
    try {
      const renderer = createDocumentRenderer({ thread, cacheBytes: 64 * 1024 * 1024 })
      const first = [paragraph('first version')]
      const edited = [...first, paragraph('an edit')]
      const other = [paragraph('another document')]
      await renderer.render(first, { format: 'html', room: 'notes' })
      await renderer.render(other, { format: 'html', room: 'other' })
      await renderer.render(first, { format: 'markdown', room: 'notes' })
      expect(renderer.cached).toBe(3)
      const html = await renderer.render(edited, { format: 'html', room: 'notes' })
      expect(new TextDecoder().decode(html.body)).toContain('an edit')
      // The first version's HTML went; its Markdown (another format) and the other document stayed.
      expect(renderer.cached).toBe(3)
      const missesBefore = renderer.misses
      await renderer.render(other, { format: 'html', room: 'other' })
      await renderer.render(first, { format: 'markdown', room: 'notes' })
      await renderer.render(edited, { format: 'html', room: 'notes' })
      expect(renderer.misses).toBe(missesBefore)
      // A stored version (no room) is cached beside the live document's newest render.
      await renderer.render(first, { format: 'html' })
      await renderer.render(edited, { format: 'html', room: 'notes' })
      expect(renderer.cached).toBe(4)
      expect(renderer.misses).toBe(missesBefore + 1)
    } finally {
      await thread.close()
    }
  })
})
