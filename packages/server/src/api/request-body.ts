import type { IncomingMessage } from 'node:http'

export type RequestBody = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly reason: 'too-large' | 'aborted' }

/**
 * The body of `request`, at most `maxBytes`: a larger one (by its Content-Length, or
 * once that many bytes arrived) is refused without reading the rest into memory.
 */
export function readRequestBody(request: IncomingMessage, maxBytes: number): Promise<RequestBody> {
  const declared = Number(request.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) {
    request.resume()
    return Promise.resolve({ ok: false, reason: 'too-large' })
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let length = 0
    let settled = false
    const finish = (body: RequestBody): void => {
      if (settled) return
      settled = true
      request.off('data', onData)
      resolve(body)
    }
    const onData = (chunk: Buffer): void => {
      length += chunk.byteLength
      if (length > maxBytes) {
        // Drained, not kept: the answer can still be written on this connection.
        request.resume()
        finish({ ok: false, reason: 'too-large' })
        return
      }
      chunks.push(chunk)
    }
    request.on('data', onData)
    request.once('end', () => {
      const whole = Buffer.concat(chunks, length)
      finish({ ok: true, bytes: new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength) })
    })
    request.once('error', () => finish({ ok: false, reason: 'aborted' }))
    request.once('close', () => finish({ ok: false, reason: 'aborted' }))
  })
}
