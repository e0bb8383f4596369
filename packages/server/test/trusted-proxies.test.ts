import { describe, expect, it } from 'vitest'
import { readHopAddress, readIpAddress } from '../src/transport/ip-address.js'
import { parseTrustedProxies, type TrustedProxies } from '../src/transport/trusted-proxies.js'

/**
 * The trusted-proxy ranges of `--trust-proxy` / `trustProxy` (src/transport/trusted-proxies.ts)
 * and the address spellings they are matched against (src/transport/ip-address.ts): one
 * table of ranges and addresses in and out of them, one of what is refused.
 */

function proxies(specs: readonly string[]): TrustedProxies {
  const parsed = parseTrustedProxies(specs)
  if (!parsed.ok) throw new Error(parsed.message)
  return parsed.proxies
}

function trusts(specs: readonly string[], address: string): boolean {
  const ip = readIpAddress(address)
  if (ip === null) throw new Error(`test address ${address} does not parse`)
  return proxies(specs).isTrusted(ip)
}

describe('trusted proxy ranges', () => {
  it.each([
    // [ranges, address, trusted]
    [['loopback'], '127.0.0.1', true],
    [['loopback'], '127.255.3.4', true],
    [['loopback'], '::1', true],
    [['loopback'], '::ffff:127.0.0.1', true],
    [['loopback'], '128.0.0.1', false],
    [['loopback'], '::2', false],
    [['loopback'], '10.0.0.1', false],
    [['10.0.0.0/8'], '10.255.255.255', true],
    [['10.0.0.0/8'], '11.0.0.0', false],
    [['10.0.0.0/8'], '::ffff:10.1.2.3', true],
    [['10.1.2.3/8'], '10.200.0.1', true], // host bits beyond the prefix are ignored, as ip(8) does
    [['192.168.1.0/24'], '192.168.1.77', true],
    [['192.168.1.0/24'], '192.168.2.77', false],
    [['192.0.2.7'], '192.0.2.7', true],
    [['192.0.2.7'], '192.0.2.8', false],
    [['192.0.2.7/32'], '192.0.2.7', true],
    [['0.0.0.0/0'], '203.0.113.9', true],
    [['0.0.0.0/0'], '2001:db8::1', false],
    [['fd00::/8'], 'fd12:3456::1', true],
    [['fd00::/8'], 'fe80::1', false],
    [['2001:DB8::/32'], '2001:db8:ffff::1', true],
    [['2001:db8::1'], '2001:0db8:0000::0001', true],
    [['::1/128'], '::1', true],
    [['::ffff:10.0.0.0/104'], '10.9.9.9', true],
    [['::ffff:10.0.0.0/104'], '11.0.0.1', false],
    [['10.0.0.0/8', 'loopback'], '127.0.0.1', true],
    [['10.0.0.0/8', ' 172.16.0.0/12 '], '172.31.0.1', true],
    [[], '127.0.0.1', false]
  ] as const)('%j: %s trusted is %s', (specs, address, expected) => {
    expect(trusts(specs, address)).toBe(expected)
  })

  it('an empty list trusts no one and says so', () => {
    expect(proxies([]).none).toBe(true)
    expect(proxies(['loopback']).none).toBe(false)
  })

  it.each([
    'localhost',
    '',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '10.0.0.0/ 8',
    '10.0.0.0/0x8',
    '10.0.0/8',
    '256.0.0.0/8',
    'fd00::/129',
    '::ffff:10.0.0.0/95',
    'fe80::1%eth0',
    '[::1]',
    '10.0.0.1:80',
    'loopback/8',
    'Loopback'
  ])('refuses %j with a message that says what to write', (spec) => {
    const parsed = parseTrustedProxies(['127.0.0.1', spec])
    expect(parsed).toEqual({
      ok: false,
      invalid: spec,
      message: `a trusted proxy must be an address (192.0.2.7, ::1), a CIDR range (10.0.0.0/8, fd00::/8) or loopback, got "${spec}"`
    })
  })
})

describe('address spellings', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:7f00:1', '127.0.0.1'],
    ['2001:DB8:0:0::1', '2001:db8::1'],
    ['::1', '::1'],
    ['localhost', null],
    ['1.2.3', null],
    ['fe80::1%lo', null],
    ['[::1]', null],
    ['1.2.3.4:80', null]
  ])('an address: %j is %j', (text, expected) => {
    expect(readIpAddress(text)?.address ?? null).toBe(expected)
  })

  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['192.0.2.1:4711', '192.0.2.1'],
    ['192.0.2.1:_hidden', '192.0.2.1'],
    ['2001:db8::1', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:db8::1]:4711', '2001:db8::1'],
    ['[::ffff:192.0.2.1]:80', '192.0.2.1'],
    ['[192.0.2.1]', null],
    ['[2001:db8::1', null],
    ['[2001:db8::1]4711', null],
    ['[2001:db8::1]:', null],
    ['[2001:db8::1]:123456', null],
    ['192.0.2.1:', null],
    ['192.0.2.1:80:80', null],
    ['unknown', null],
    ['_hidden', null],
    ['', null]
  ])('a hop: %j is %j', (text, expected) => {
    expect(readHopAddress(text)?.address ?? null).toBe(expected)
  })
})
