/**
 * Document names as stored in PostgreSQL: any JS string is a valid name, and `text`
 * cannot hold all of them (no NUL; a lone surrogate has no UTF-8 form). Names are stored
 * as `bytea` in WTF-8: UTF-8 for every well-formed name (so `convert_from(name, 'UTF8')`
 * shows what an operator expects), with a lone surrogate written as the three bytes
 * UTF-8 would give its code point. That keeps every name distinct and round-trips, which
 * plain UTF-8 (lone surrogates fold into U+FFFD) does not.
 */
// With the u flag a surrogate pair is one code point, so only a lone surrogate matches.
const LONE_SURROGATE = /\p{Cs}/u

export function encodeDocumentName(name: string): Buffer {
  if (!LONE_SURROGATE.test(name)) return Buffer.from(name, 'utf8')
  const bytes: number[] = []
  for (let i = 0; i < name.length; i++) {
    const point = name.codePointAt(i) as number
    if (point > 0xffff) i++
    writeCodePoint(bytes, point)
  }
  return Buffer.from(bytes)
}

export function decodeDocumentName(bytes: Uint8Array): string {
  const units: number[] = []
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i] as number
    const length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4
    let point = length === 1 ? lead : lead & (0xff >> (length + 1))
    for (let k = 1; k < length; k++) point = (point << 6) | ((bytes[i + k] as number) & 0x3f)
    i += length
    if (point > 0xffff) {
      point -= 0x10000
      units.push(0xd800 + (point >> 10), 0xdc00 + (point & 0x3ff))
    } else {
      units.push(point)
    }
  }
  let name = ''
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < units.length; i += 4096) name += String.fromCharCode(...units.slice(i, i + 4096))
  return name
}

function writeCodePoint(bytes: number[], point: number): void {
  if (point < 0x80) bytes.push(point)
  else if (point < 0x800) bytes.push(0xc0 | (point >> 6), 0x80 | (point & 0x3f))
  else if (point < 0x10000) bytes.push(0xe0 | (point >> 12), 0x80 | ((point >> 6) & 0x3f), 0x80 | (point & 0x3f))
  else bytes.push(0xf0 | (point >> 18), 0x80 | ((point >> 12) & 0x3f), 0x80 | ((point >> 6) & 0x3f), 0x80 | (point & 0x3f))
}
