import { describe, expect, it } from 'vitest'
import type { Writable } from 'node:stream'
import * as ws from 'ws'
import { createPrng } from '@quire/testkit'
import { encodeBinaryFrames, wireFramesOf } from '../src/transport/wire-frames.js'

// ws's frame parser, which its ESM entry exports but its type declarations do not.
const { Receiver } = ws as unknown as { Receiver: new (options: { isServer: boolean; maxPayload: number }) => Writable }

/** What a client's ws parses out of the bytes, with the length checks ws applies. */
async function parsedByWs(wire: Buffer): Promise<Buffer[]> {
  const receiver = new Receiver({ isServer: false, maxPayload: 0 })
  const messages: Buffer[] = []
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    expect(isBinary).toBe(true)
    messages.push(data)
  })
  const failed = new Promise<never>((_, reject) => receiver.on('error', reject))
  await Promise.race([new Promise<void>((resolve) => receiver.write(wire, () => resolve())), failed])
  return messages
}

function bytes(length: number, seed: number): Uint8Array {
  const prng = createPrng(seed)
  return Uint8Array.from({ length }, () => prng.int(0, 255))
}

describe('wire frames', () => {
  it('encodes every length class (7-bit, 16-bit, 64-bit) as ws reads it', async () => {
    const lengths = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]
    const messages = lengths.map((length, index) => bytes(length, index + 1))
    for (const message of messages) {
      const parsed = await parsedByWs(encodeBinaryFrames([message]))
      expect(parsed).toHaveLength(1)
      expect(Buffer.compare(parsed[0] as Buffer, Buffer.from(message))).toBe(0)
    }
    const parsed = await parsedByWs(encodeBinaryFrames(messages))
    expect(parsed.map((data) => data.byteLength)).toEqual(lengths)
  })

  it('shares one encoding between the receivers of the same message, and never a stale one', () => {
    const first = bytes(40, 7)
    const batch = [bytes(10, 8), bytes(20, 9)]
    expect(wireFramesOf(first)).toBe(wireFramesOf(first))
    expect(wireFramesOf(batch)).toBe(wireFramesOf(batch))
    const other = bytes(40, 10)
    expect(wireFramesOf(other).subarray(2)).toEqual(Buffer.from(other))
    expect(wireFramesOf(first).subarray(2)).toEqual(Buffer.from(first))
  })
})
