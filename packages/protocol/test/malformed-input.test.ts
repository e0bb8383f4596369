import { isDeepStrictEqual } from 'node:util'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  MESSAGE_AUTH,
  MESSAGE_AWARENESS,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_QUIRE,
  MESSAGE_SYNC,
  SYNC_STEP_1,
  SYNC_STEP_2,
  SYNC_UPDATE,
  decodeMessage,
  encodeMessage
} from '@quire/protocol'
import type { DecodeErrorKind, DecodeResult } from '@quire/protocol'
import { listSampleMessages } from './sample-messages.js'

/**
 * Bad input never throws: every decode returns a typed error whose reason fits a
 * WebSocket close frame (123 bytes of UTF-8), and the kind picks the close code.
 */

const utf8 = new TextEncoder()

function decodeSafely(bytes: Uint8Array, options?: Parameters<typeof decodeMessage>[1]): DecodeResult {
  let result: DecodeResult | undefined
  expect(() => {
    result = decodeMessage(bytes, options)
  }, `decodeMessage threw on [${[...bytes.subarray(0, 16)].join(',')}${bytes.length > 16 ? ',…' : ''}]`).not.toThrow()
  if (result === undefined) throw new Error('unreachable')
  return result
}

function expectError(result: DecodeResult, kind: DecodeErrorKind, label: string): void {
  expect(result.ok, label).toBe(false)
  if (result.ok) return
  expect(result.error.kind, `${label}: ${result.error.reason}`).toBe(kind)
  expect(result.error.reason.length, label).toBeGreaterThan(0)
  expect(utf8.encode(result.error.reason).length, `${label}: reason too long for a close frame: ${result.error.reason}`).toBeLessThanOrEqual(123)
}

function frame(...parts: ((encoder: encoding.Encoder) => void)[]): Uint8Array {
  const encoder = encoding.createEncoder()
  for (const part of parts) part(encoder)
  return encoding.toUint8Array(encoder)
}
const uint = (n: number) => (encoder: encoding.Encoder) => encoding.writeVarUint(encoder, n)
const bytes = (b: Uint8Array) => (encoder: encoding.Encoder) => encoding.writeVarUint8Array(encoder, b)
const string = (s: string) => (encoder: encoding.Encoder) => encoding.writeVarString(encoder, s)

describe('truncation: every prefix of every valid message is an error, never a throw', () => {
  it.each(listSampleMessages())('$label', ({ message }) => {
    const whole = encodeMessage(message)
    const problems: string[] = []
    for (let cut = 0; cut < whole.length; cut++) {
      // A copy (own buffer) and a view into the whole message: a decoder that read past
      // the view's end would find the rest of the message there and wrongly succeed.
      for (const [form, bytes] of [
        ['copy', whole.slice(0, cut)],
        ['view', whole.subarray(0, cut)]
      ] as const) {
        const problem = findTruncationProblem(bytes)
        if (problem !== null) problems.push(`cut at ${cut} (${form}): ${problem}`)
      }
    }
    expect(problems.slice(0, 5)).toEqual([])
  })
})

/** Why decoding a truncated frame was not a proper 'malformed' error, or null if it was. */
function findTruncationProblem(bytes: Uint8Array): string | null {
  let result: DecodeResult
  try {
    result = decodeMessage(bytes)
  } catch (error) {
    return `threw ${String(error)}`
  }
  if (result.ok) return `decoded as ${result.message.type}`
  if (result.error.kind !== 'malformed') return `kind ${result.error.kind}: ${result.error.reason}`
  if (result.error.reason.length === 0 || utf8.encode(result.error.reason).length > 123) return `unusable reason ${JSON.stringify(result.error.reason)}`
  return null
}

describe('trailing bytes', () => {
  it.each(listSampleMessages())('$label followed by extra bytes is malformed', ({ label, message }) => {
    const whole = encodeMessage(message)
    for (const extra of [[0], [1], [0xff], [0, 0, 0]]) {
      const withTrailing = new Uint8Array([...whole, ...extra])
      expectError(decodeSafely(withTrailing), 'malformed', `${label} + [${extra.join(',')}]`)
    }
    // Two valid messages in one frame are not one message either.
    expectError(decodeSafely(new Uint8Array([...whole, ...whole])), 'malformed', `${label} twice`)
  })
})

describe('unknown message types', () => {
  const cases: { label: string; bytes: Uint8Array }[] = [
    { label: 'outer type 4', bytes: frame(uint(4)) },
    { label: 'outer type 99', bytes: frame(uint(99), uint(0)) },
    { label: 'outer type 101', bytes: frame(uint(101)) },
    { label: 'outer type 2^32', bytes: frame(uint(2 ** 32)) },
    { label: 'sync sub-type 3', bytes: frame(uint(MESSAGE_SYNC), uint(3), bytes(new Uint8Array([0]))) },
    { label: 'sync sub-type 200', bytes: frame(uint(MESSAGE_SYNC), uint(200)) },
    { label: 'auth sub-type 1', bytes: frame(uint(MESSAGE_AUTH), uint(1), string('x')) },
    { label: 'quire sub-type 3', bytes: frame(uint(MESSAGE_QUIRE), uint(3)) },
    { label: 'quire sub-type 1000', bytes: frame(uint(MESSAGE_QUIRE), uint(1000), uint(1)) }
  ]
  it.each(cases)('$label is unknown-type', ({ label, bytes: input }) => {
    expectError(decodeSafely(input), 'unknown-type', label)
  })
})

describe('invalid payloads inside well-formed framing', () => {
  const validUpdate = (() => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'some text that makes a real update')
    doc.getText('t').delete(3, 4)
    return Y.encodeStateAsUpdate(doc)
  })()

  const badUpdates: { label: string; update: Uint8Array }[] = [
    { label: 'empty update', update: new Uint8Array() },
    { label: 'one garbage byte', update: new Uint8Array([0xff]) },
    { label: 'ascii text', update: utf8.encode('hello, this is not a Yjs update') },
    { label: 'a truncated real update', update: validUpdate.slice(0, validUpdate.length - 3) },
    { label: 'a real update plus garbage', update: new Uint8Array([...validUpdate.slice(0, 6), 0xff, 0xff, 0xff, 0xff, 0xff]) },
    { label: 'struct count with no structs', update: new Uint8Array([5]) },
    { label: 'all 0xff', update: new Uint8Array(64).fill(0xff) }
  ]
  for (const sub of [SYNC_STEP_2, SYNC_UPDATE]) {
    it.each(badUpdates)(`sync ${sub === SYNC_STEP_2 ? 'step 2' : 'update'} carrying $label is invalid-update`, ({ label, update }) => {
      expectError(decodeSafely(frame(uint(MESSAGE_SYNC), uint(sub), bytes(update))), 'invalid-update', label)
    })
  }

  it('a sync step 1 whose state vector is garbage is an error', () => {
    for (const stateVector of [new Uint8Array([5]), new Uint8Array([1, 0xff]), new Uint8Array(10).fill(0xff)]) {
      const result = decodeSafely(frame(uint(MESSAGE_SYNC), uint(SYNC_STEP_1), bytes(stateVector)))
      expect(result.ok).toBe(false)
    }
  })

  it.each([
    { label: 'state that is not JSON', update: frame(uint(1), uint(7), uint(1), string('{not json')) },
    { label: 'count larger than entries', update: frame(uint(3), uint(7), uint(1), string('{}')) },
    { label: 'entry cut short', update: frame(uint(1), uint(7)) },
    { label: 'trailing bytes after entries', update: frame(uint(1), uint(7), uint(1), string('{}'), uint(9)) }
  ])('awareness update with $label is invalid-awareness', ({ label, update }) => {
    expectError(decodeSafely(frame(uint(MESSAGE_AWARENESS), bytes(update))), 'invalid-awareness', label)
  })

  it('a quire-saved whose delete set is garbage is an error', () => {
    const result = decodeSafely(frame(uint(MESSAGE_QUIRE), uint(1), bytes(new Uint8Array([0])), bytes(new Uint8Array([0xff, 0xff]))))
    expect(result.ok).toBe(false)
  })
})

describe('size limit', () => {
  it('a frame over maxBytes is too-large, whatever it contains', () => {
    const valid = encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(new Y.Doc()) })
    expectError(decodeSafely(valid, { maxBytes: valid.length - 1 }), 'too-large', 'valid message over the limit')
    expectError(decodeSafely(new Uint8Array(1025).fill(0xff), { maxBytes: 1024 }), 'too-large', 'garbage over the limit')
  })

  it('the default limit is 16 MiB', () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(16 * 1024 * 1024)
  })
})

describe('empty and garbage frames', () => {
  it('an empty frame is malformed', () => {
    expectError(decodeSafely(new Uint8Array()), 'malformed', 'empty frame')
  })

  it('a varUint that never ends is malformed', () => {
    expectError(decodeSafely(new Uint8Array(12).fill(0x80)), 'malformed', 'endless varUint')
  })

  it('every 1- and 2-byte frame decodes without throwing, to a valid message or a typed error', () => {
    for (let a = 0; a < 256; a++) {
      checkArbitraryFrame(new Uint8Array([a]))
      for (let b = 0; b < 256; b++) checkArbitraryFrame(new Uint8Array([a, b]))
    }
  })

  it('every 3-byte frame that starts with a known type decodes without throwing', () => {
    for (const type of [MESSAGE_SYNC, MESSAGE_AWARENESS, MESSAGE_AUTH, MESSAGE_QUERY_AWARENESS, MESSAGE_QUIRE]) {
      for (let b = 0; b < 256; b++) {
        for (let c = 0; c < 256; c++) {
          checkArbitraryFrame(new Uint8Array([type, b, c]))
        }
      }
    }
  })

  it('every single-byte change of every small valid message decodes without throwing', () => {
    for (const { message } of listSampleMessages()) {
      const whole = encodeMessage(message)
      if (whole.length > 120) continue
      for (let i = 0; i < whole.length; i++) {
        for (let value = 0; value < 256; value++) {
          const mutated = whole.slice()
          mutated[i] = value
          checkArbitraryFrame(mutated)
        }
      }
    }
  })
})

const KINDS: readonly DecodeErrorKind[] = ['malformed', 'unknown-type', 'invalid-update', 'invalid-awareness', 'too-large']

/**
 * For arbitrary bytes: no throw; an error has a known kind and a close-frame-sized reason;
 * a success re-encodes to a message that decodes to the same value (so the server can
 * relay what it decoded).
 */
function checkArbitraryFrame(input: Uint8Array): void {
  let result: DecodeResult
  try {
    result = decodeMessage(input)
  } catch (error) {
    throw new Error(`decodeMessage threw on [${[...input].join(',')}]: ${String(error)}`)
  }
  if (result.ok) {
    const again = decodeMessage(encodeMessage(result.message))
    if (!again.ok) throw new Error(`[${[...input].join(',')}] decoded but its re-encoding does not: ${again.error.reason}`)
    if (!isDeepStrictEqual(again.message, result.message)) throw new Error(`[${[...input].join(',')}] re-encodes to a different message`)
    return
  }
  if (!KINDS.includes(result.error.kind)) throw new Error(`unknown error kind ${result.error.kind}`)
  if (result.error.reason.length === 0 || utf8.encode(result.error.reason).length > 123) {
    throw new Error(`[${[...input].join(',')}]: unusable close reason ${JSON.stringify(result.error.reason)}`)
  }
}
