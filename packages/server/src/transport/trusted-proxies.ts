import { BlockList } from 'node:net'
import { readIpAddress, type IpAddress } from './ip-address.js'

/**
 * The reverse proxies whose forwarding headers the server believes: a list of address
 * ranges, each written as a CIDR range (`10.0.0.0/8`, `fd00::/8`), a single address
 * (`192.0.2.7`, `::1`) or `loopback` (127.0.0.0/8 and ::1, a proxy on the same machine).
 *
 * Matching is node:net's `BlockList` (despite the name, a plain set of ranges). Addresses
 * are checked in their canonical form (see ip-address.ts), so an IPv4 peer reported by a
 * dual-stack listener as `::ffff:127.0.0.1` is matched against the IPv4 ranges.
 */
export interface TrustedProxies {
  /** The ranges as they were given (trimmed), to show and to compare. */
  readonly ranges: readonly string[]
  /** True when no range was given: no header is believed, whoever sends it. */
  readonly none: boolean
  isTrusted(address: IpAddress): boolean
}

export type TrustedProxiesResult =
  | { readonly ok: true; readonly proxies: TrustedProxies }
  | { readonly ok: false; readonly invalid: string; readonly message: string }

export const LOOPBACK_SPEC = 'loopback'

/** What a range may look like, for error messages (the CLI's and createServer's). */
export const TRUSTED_PROXY_FORMS = `an address (192.0.2.7, ::1), a CIDR range (10.0.0.0/8, fd00::/8) or ${LOOPBACK_SPEC}`

export function parseTrustedProxies(specs: readonly string[]): TrustedProxiesResult {
  const list = new BlockList()
  for (const spec of specs) {
    if (!addRange(list, spec.trim())) {
      return { ok: false, invalid: spec, message: `a trusted proxy must be ${TRUSTED_PROXY_FORMS}, got "${spec}"` }
    }
  }
  return { ok: true, proxies: new RangeList(specs.map((spec) => spec.trim()), list) }
}

// A class, so that two lists of the same ranges compare equal as values (a BlockList
// shows nothing of its contents to a deep comparison).
class RangeList implements TrustedProxies {
  constructor(
    readonly ranges: readonly string[],
    private readonly list: BlockList
  ) {}

  get none(): boolean {
    return this.ranges.length === 0
  }

  isTrusted(address: IpAddress): boolean {
    return this.list.check(address.address, address.family)
  }
}

function addRange(ranges: BlockList, spec: string): boolean {
  if (spec === LOOPBACK_SPEC) {
    ranges.addSubnet('127.0.0.0', 8, 'ipv4')
    ranges.addAddress('::1', 'ipv6')
    return true
  }
  const slash = spec.indexOf('/')
  const address = readIpAddress(slash < 0 ? spec : spec.slice(0, slash))
  if (address === null) return false
  if (slash < 0) {
    ranges.addAddress(address.address, address.family)
    return true
  }
  const prefixText = spec.slice(slash + 1)
  const prefix = Number(prefixText)
  // An IPv4-mapped range (::ffff:10.0.0.0/104) was read as IPv4: its prefix counts 96 bits fewer.
  const written = spec.slice(0, slash).includes(':') && address.family === 'ipv4' ? prefix - 96 : prefix
  const maxPrefix = address.family === 'ipv4' ? 32 : 128
  if (!/^\d{1,3}$/.test(prefixText) || !(written >= 0 && written <= maxPrefix)) return false
  ranges.addSubnet(address.address, written, address.family)
  return true
}
