import { describe, expect, it } from 'vitest'
import { createRenderCache } from '../src/render/render-cache.js'

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
