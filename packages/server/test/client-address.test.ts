import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import { resolveClientAddressOf } from '../src/transport/client-address.js'
import { readForwarded, readForwardedHops } from '../src/transport/forwarded-hops.js'
import { parseTrustedProxies, type TrustedProxies } from '../src/transport/trusted-proxies.js'

/**
 * Which address a connection counts as (src/transport/client-address.ts): the peer's,
 * unless the peer is a trusted proxy; then the right-most forwarded hop that is not
 * itself trusted. The proxies trusted here are loopback and 10.0.0.0/8; clients are
 * documentation addresses (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32).
 */

function trusting(...specs: string[]): TrustedProxies {
  const parsed = parseTrustedProxies(specs)
  if (!parsed.ok) throw new Error(parsed.message)
  return parsed.proxies
}

const PROXIES = trusting('loopback', '10.0.0.0/8')

function clientOf(peer: string | undefined, headers: IncomingHttpHeaders, trusted = PROXIES): string {
  return resolveClientAddressOf(peer, () => readForwardedHops(headers), trusted)
}

describe('the client address', () => {
  it.each([
    // [why, peer, headers, client]
    ['no proxy, no header: the peer', '192.0.2.1', {}, '192.0.2.1'],
    ['an untrusted peer forging X-Forwarded-For counts as itself', '192.0.2.1', { 'x-forwarded-for': '198.51.100.7' }, '192.0.2.1'],
    ['an untrusted peer forging Forwarded counts as itself', '192.0.2.1', { forwarded: 'for=198.51.100.7' }, '192.0.2.1'],
    ['a trusted proxy: the address it forwarded for', '10.0.0.5', { 'x-forwarded-for': '192.0.2.1' }, '192.0.2.1'],
    ['a trusted proxy peer written IPv4-mapped', '::ffff:127.0.0.1', { 'x-forwarded-for': '192.0.2.1' }, '192.0.2.1'],
    ['an IPv4-mapped peer without a header is counted as IPv4', '::ffff:192.0.2.1', {}, '192.0.2.1'],
    ['a forged entry left of the real client is not looked at', '10.0.0.5', { 'x-forwarded-for': '198.51.100.7, 192.0.2.1' }, '192.0.2.1'],
    ['trusted hops on the right are skipped', '127.0.0.1', { 'x-forwarded-for': '198.51.100.7, 192.0.2.1, 10.1.1.1, 10.2.2.2' }, '192.0.2.1'],
    ['every hop trusted: the left-most', '127.0.0.1', { 'x-forwarded-for': '10.3.3.3, 10.1.1.1' }, '10.3.3.3'],
    ['a trusted peer without a header: the peer', '10.0.0.5', {}, '10.0.0.5'],
    ['a port on a hop is dropped', '10.0.0.5', { 'x-forwarded-for': '192.0.2.1:51234' }, '192.0.2.1'],
    ['an IPv6 hop, bracketed with a port', '10.0.0.5', { 'x-forwarded-for': '[2001:DB8::1]:443' }, '2001:db8::1'],
    ['an IPv6 hop, bare', '::1', { 'x-forwarded-for': '2001:db8:0::1' }, '2001:db8::1'],
    ['an IPv4-mapped hop counts as its IPv4 address', '10.0.0.5', { 'x-forwarded-for': '::ffff:192.0.2.1' }, '192.0.2.1'],
    ['malformed right-most hop: the peer', '10.0.0.5', { 'x-forwarded-for': '192.0.2.1, not-an-ip' }, '10.0.0.5'],
    ['malformed hop behind trusted ones: the peer', '10.0.0.5', { 'x-forwarded-for': 'garbage, 10.1.1.1' }, '10.0.0.5'],
    ['an empty entry where we need it: the peer', '10.0.0.5', { 'x-forwarded-for': '192.0.2.1, ' }, '10.0.0.5'],
    ['an empty header: the peer', '10.0.0.5', { 'x-forwarded-for': '' }, '10.0.0.5'],
    ['garbage left of the client is not looked at', '10.0.0.5', { 'x-forwarded-for': '%%%, 192.0.2.1' }, '192.0.2.1'],
    ['Forwarded, one element', '10.0.0.5', { forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43' }, '192.0.2.60'],
    ['Forwarded, quoted IPv6 with a port', '10.0.0.5', { forwarded: 'for="[2001:db8:cafe::17]:4711"' }, '2001:db8:cafe::17'],
    ['Forwarded, quoted IPv4 with a port', '10.0.0.5', { forwarded: 'For="192.0.2.43:47011"' }, '192.0.2.43'],
    ['Forwarded, several elements, trusted on the right', '10.0.0.5', { forwarded: 'for=198.51.100.7, for=192.0.2.43, for=10.9.9.9;proto=https' }, '192.0.2.43'],
    ['Forwarded, two header lines joined by Node', '10.0.0.5', { forwarded: 'for=198.51.100.7, for="[2001:db8::2]"' }, '2001:db8::2'],
    ['Forwarded, a quoted comma does not split elements', '10.0.0.5', { forwarded: 'for=192.0.2.43;ext="a,b;c", for=10.9.9.9' }, '192.0.2.43'],
    ['Forwarded, unknown where we need it: the peer', '10.0.0.5', { forwarded: 'for=192.0.2.43, for=unknown' }, '10.0.0.5'],
    ['Forwarded, obfuscated node: the peer', '10.0.0.5', { forwarded: 'for=_hidden' }, '10.0.0.5'],
    ['Forwarded, unquoted IPv6 is malformed: the peer', '10.0.0.5', { forwarded: 'for=2001:db8::1' }, '10.0.0.5'],
    ['Forwarded, element without for: the peer', '10.0.0.5', { forwarded: 'proto=https;by=10.0.0.5' }, '10.0.0.5'],
    ['Forwarded, unclosed quote: the peer', '10.0.0.5', { forwarded: 'for="192.0.2.1' }, '10.0.0.5'],
    ['Forwarded, two for= in one element: the peer', '10.0.0.5', { forwarded: 'for=192.0.2.1;for=192.0.2.2' }, '10.0.0.5'],
    ['both headers: X-Forwarded-For (what nginx and HAProxy append to) wins', '10.0.0.5', { forwarded: 'for=198.51.100.7', 'x-forwarded-for': '192.0.2.1' }, '192.0.2.1']
  ] as const)('%s', (_why, peer, headers, client) => {
    expect(clientOf(peer, headers)).toBe(client)
  })

  it('no trusted proxies: headers are never read', () => {
    let read = false
    const client = resolveClientAddressOf('127.0.0.1', () => ((read = true), []), trusting())
    expect({ client, read }).toEqual({ client: '127.0.0.1', read: false })
  })

  it('an untrusted peer: headers are never read', () => {
    let read = false
    resolveClientAddressOf('192.0.2.1', () => ((read = true), []), PROXIES)
    expect(read).toBe(false)
  })

  it('a socket that already closed (no address) keeps a key', () => {
    expect(clientOf(undefined, { 'x-forwarded-for': '192.0.2.1' })).toBe('unknown')
  })
})

describe('the Forwarded header, element by element', () => {
  it('reads each element to its for= address or null', () => {
    const hops = readForwarded('for=192.0.2.60;proto=http, for=unknown, by=10.0.0.1, for="[::1]:80";host="a;b", for=bad"quote')
    expect(hops.map((h) => h?.address ?? null)).toEqual(['192.0.2.60', null, null, '::1', null])
  })

  it('unescapes quoted pairs', () => {
    expect(readForwarded('for="\\192.0.2.1"')[0]?.address).toBe('192.0.2.1')
  })
})
