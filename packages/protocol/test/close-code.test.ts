import { describe, expect, it } from 'vitest'
import {
  CLOSE_FORBIDDEN,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_POLICY_VIOLATION,
  CLOSE_UNAUTHORIZED,
  closeCodeForDecodeError,
  truncateCloseReason
} from '@quire/protocol'

const utf8 = new TextEncoder()

describe('close codes', () => {
  it('are the documented numbers', () => {
    expect([CLOSE_INVALID_PAYLOAD, CLOSE_POLICY_VIOLATION, CLOSE_MESSAGE_TOO_BIG, CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN]).toEqual([
      1007, 1008, 1009, 4401, 4403
    ])
  })

  it('one table maps every decode error kind to its close code', () => {
    expect(closeCodeForDecodeError).toEqual({
      malformed: 1007,
      'invalid-update': 1007,
      'invalid-awareness': 1007,
      'unknown-type': 1008,
      'too-large': 1009
    })
  })
})

describe('truncateCloseReason', () => {
  it('keeps short reasons as they are', () => {
    expect(truncateCloseReason('invalid update: not a Yjs update')).toBe('invalid update: not a Yjs update')
    expect(truncateCloseReason('')).toBe('')
    const exactly123 = 'a'.repeat(123)
    expect(truncateCloseReason(exactly123)).toBe(exactly123)
  })

  it.each([
    { label: 'ascii', reason: 'x'.repeat(500) },
    { label: 'two-byte characters', reason: 'é'.repeat(100) },
    { label: 'astral characters', reason: '🦊'.repeat(40) },
    { label: 'mixed', reason: 'a' + '€🦊é'.repeat(30) }
  ])('cuts long $label reasons to at most 123 bytes on a character boundary', ({ reason }) => {
    const cut = truncateCloseReason(reason)
    expect(utf8.encode(cut).length).toBeLessThanOrEqual(123)
    expect(cut.endsWith('…')).toBe(true)
    const kept = cut.slice(0, -1)
    expect(reason.startsWith(kept)).toBe(true)
    // No lone surrogate: the kept part survives a UTF-8 round trip.
    expect(new TextDecoder().decode(utf8.encode(kept))).toBe(kept)
  })
})
