import { describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import { decodeMessage, encodeMessage, writeMessage } from '@quire/protocol'
import { createSampleMessages, decodedForm, listSampleMessages } from './sample-messages.js'

describe('round trip: encode -> decode -> equal, for every Message kind', () => {
  it('the sample table covers every kind with at least one message', () => {
    const table = createSampleMessages()
    for (const [kind, messages] of Object.entries(table)) {
      expect(messages.length, kind).toBeGreaterThan(0)
      for (const message of messages) expect(message.type).toBe(kind)
    }
  })

  it.each(listSampleMessages())('$label', ({ message }) => {
    const bytes = encodeMessage(message)
    const decoded = decodeMessage(bytes)
    expect(decoded).toEqual({ ok: true, message: decodedForm(message) })
    // Decoding is canonical for what we encode: re-encoding gives the same bytes.
    if (!decoded.ok) throw new Error('unreachable')
    expect(encodeMessage(decoded.message)).toEqual(bytes)
  })

  it('writeMessage appends the same bytes encodeMessage returns, so frames can be built from parts', () => {
    for (const { message } of listSampleMessages()) {
      const encoder = encoding.createEncoder()
      encoding.writeUint8(encoder, 42)
      writeMessage(encoder, message)
      const bytes = encoding.toUint8Array(encoder)
      expect(bytes[0]).toBe(42)
      expect(bytes.subarray(1)).toEqual(encodeMessage(message))
    }
  })

  it('decodes a frame that is a view into a larger buffer, and the payload views stay inside the frame', () => {
    for (const { label, message } of listSampleMessages()) {
      const bytes = encodeMessage(message)
      const pool = new Uint8Array(bytes.length + 64).fill(0xff)
      pool.set(bytes, 32)
      const view = pool.subarray(32, 32 + bytes.length)
      const decoded = decodeMessage(view)
      expect(decoded, label).toEqual({ ok: true, message: decodedForm(message) })
    }
  })

  it('an update decoded without validation carries no meta (nothing was learned about it)', () => {
    for (const { message } of listSampleMessages()) {
      if (message.type !== 'sync-update' && message.type !== 'sync-step-2') continue
      const decoded = decodeMessage(encodeMessage(message), { validatePayloads: false })
      expect(decoded).toEqual({ ok: true, message: { ...message, meta: null } })
    }
  })

  it('decodes within maxBytes when the frame is exactly the limit', () => {
    for (const { message } of listSampleMessages()) {
      const bytes = encodeMessage(message)
      expect(decodeMessage(bytes, { maxBytes: bytes.length })).toEqual({ ok: true, message: decodedForm(message) })
    }
  })
})
