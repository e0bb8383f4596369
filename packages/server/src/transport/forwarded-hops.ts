import type { IncomingHttpHeaders } from 'node:http'
import { readHopAddress, type IpAddress } from './ip-address.js'

/**
 * The client addresses proxies wrote into a request, left (the first proxy's client) to
 * right (the last proxy's), one per hop. A hop whose entry is not an address (garbage, an
 * empty entry, RFC 7239's `unknown` or an obfuscated `_name`, an element without `for=`)
 * is null: whoever reads the list decides whether it needs that hop (client-address.ts).
 *
 * `X-Forwarded-For` is read when present, `Forwarded` (RFC 7239) only when it is not:
 * nginx's `$proxy_add_x_forwarded_for`, HAProxy's `option forwardfor` and most load
 * balancers append to X-Forwarded-For and pass a client's own `Forwarded` through
 * untouched, so preferring `Forwarded` would let a client behind them name itself. A proxy
 * that writes `Forwarded` must drop the client's X-Forwarded-For for the same reason.
 * Node joins repeated header lines with ", ", which is the list syntax of both headers.
 */
export type ForwardedHops = readonly (IpAddress | null)[]

export function readForwardedHops(headers: IncomingHttpHeaders): ForwardedHops {
  const xForwardedFor = headers['x-forwarded-for']
  if (xForwardedFor !== undefined) return readXForwardedFor(String(xForwardedFor))
  const forwarded = headers.forwarded
  if (forwarded !== undefined) return readForwarded(forwarded)
  return []
}

/** `X-Forwarded-For: client, proxy1, proxy2`: addresses separated by commas. */
export function readXForwardedFor(value: string): ForwardedHops {
  return value.split(',').map((entry) => readHopAddress(entry.trim()))
}

/**
 * `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"`: elements
 * separated by commas, each a list of `name=value` pairs separated by semicolons, a
 * value a token or a quoted string (in which `,` and `;` do not separate). Names are
 * case-insensitive. An element that breaks the syntax is a null hop, as is the rest of
 * the header once a quote is left open.
 */
export function readForwarded(value: string): ForwardedHops {
  return splitOutsideQuotes(value, ',').map(readForwardedElement)
}

function readForwardedElement(element: string): IpAddress | null {
  let forValue: string | null = null
  for (const pair of splitOutsideQuotes(element, ';')) {
    const trimmed = pair.trim()
    if (trimmed === '') continue
    const equals = trimmed.indexOf('=')
    if (equals <= 0) return null
    const value = readTokenOrQuoted(trimmed.slice(equals + 1).trim())
    if (value === null) return null
    // A repeated `for` in one element is malformed (RFC 7239 section 4).
    if (trimmed.slice(0, equals).trim().toLowerCase() === 'for') {
      if (forValue !== null) return null
      forValue = value
    }
  }
  return forValue === null ? null : readHopAddress(forValue)
}

// RFC 7230 tchar: what a value may be made of without quotes.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function readTokenOrQuoted(text: string): string | null {
  if (!text.startsWith('"')) return TOKEN.test(text) ? text : null
  if (text.length < 2 || !text.endsWith('"')) return null
  let out = ''
  for (let i = 1; i < text.length - 1; i++) {
    const c = text.charAt(i)
    if (c === '"') return null
    if (c === '\\') {
      i++
      if (i >= text.length - 1) return null
    }
    out += text.charAt(i)
  }
  return out
}

/** Splits at `separator` except inside double quotes (with backslash escapes). */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i)
    if (quoted && c === '\\') i++
    else if (c === '"') quoted = !quoted
    else if (!quoted && c === separator) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}
