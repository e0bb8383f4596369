import { isIPv4, isIPv6, SocketAddress } from 'node:net'

/**
 * An IP address in one spelling per address, so that it can key a map: IPv6 compressed
 * and lower-case as Node prints it, and an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`,
 * what a dual-stack listener reports for an IPv4 peer) as the IPv4 address it carries.
 * Without that, one client would count as two addresses depending on how it was written.
 */
export interface IpAddress {
  readonly address: string
  readonly family: 'ipv4' | 'ipv6'
}

const IPV4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/

/** `text` as an address if it is exactly one (no brackets, no port, no zone); null otherwise. */
export function readIpAddress(text: string): IpAddress | null {
  if (isIPv4(text)) return { address: text, family: 'ipv4' }
  if (!isIPv6(text) || text.includes('%')) return null
  const canonical = new SocketAddress({ address: text, family: 'ipv6' }).address
  const mapped = IPV4_MAPPED.exec(canonical)?.[1]
  return mapped === undefined ? { address: canonical, family: 'ipv6' } : { address: mapped, family: 'ipv4' }
}

// A port after an address: digits, or an obfuscated one (RFC 7239 section 6.3: `_` then
// letters, digits, `.`, `_`, `-`).
const PORT = /^(?:\d{1,5}|_[A-Za-z0-9._-]+)$/

/**
 * The address of one proxy hop as proxies write it: `192.0.2.1`, `192.0.2.1:4711`,
 * `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`. The port, if any, is dropped:
 * the limits count addresses, and a client's port changes with every connection.
 */
export function readHopAddress(text: string): IpAddress | null {
  if (text.startsWith('[')) {
    const end = text.indexOf(']')
    if (end < 0) return null
    const rest = text.slice(end + 1)
    if (rest !== '' && !(rest.startsWith(':') && PORT.test(rest.slice(1)))) return null
    const inside = text.slice(1, end)
    return isIPv6(inside) ? readIpAddress(inside) : null
  }
  const plain = readIpAddress(text)
  if (plain !== null) return plain
  // Only IPv4 may carry a port without brackets: in bare IPv6 the last group would read as one.
  const colon = text.lastIndexOf(':')
  if (colon < 0 || !PORT.test(text.slice(colon + 1))) return null
  const host = text.slice(0, colon)
  return isIPv4(host) ? { address: host, family: 'ipv4' } : null
}
