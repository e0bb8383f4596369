import type { IncomingMessage } from 'node:http'
import { readForwardedHops, type ForwardedHops } from './forwarded-hops.js'
import { readIpAddress, type IpAddress } from './ip-address.js'
import type { TrustedProxies } from './trusted-proxies.js'

/**
 * The address a connection is counted, limited and logged by: the socket's peer, or,
 * when that peer is a trusted proxy, the client it forwarded for.
 *
 * Each proxy appends the address it received the request from, so reading the hops from
 * the right, every entry up to the first untrusted one was written by a proxy we trust;
 * that untrusted entry is the client as the outermost trusted proxy saw it. Anything left
 * of it came from the client and may be forged, so it is never looked at. When every hop
 * is trusted (a proxy in front of a proxy on the same network), the left-most one is the
 * best we know.
 *
 * A hop we need that is not an address (a malformed or `unknown` entry), or a trusted
 * peer that sent no header at all, leaves the peer address: a broken or misconfigured
 * proxy then counts as one client, which is safe, instead of letting a client pick its
 * address.
 */
export function resolveClientAddress(request: IncomingMessage, trusted: TrustedProxies): string {
  return resolveClientAddressOf(request.socket.remoteAddress, () => readForwardedHops(request.headers), trusted)
}

/** The same, from its parts: the peer address as the socket reports it, and the hops (read only when needed). */
export function resolveClientAddressOf(remoteAddress: string | undefined, readHops: () => ForwardedHops, trusted: TrustedProxies): string {
  const peer = remoteAddress === undefined ? null : readIpAddress(remoteAddress)
  // A socket that already closed has no address; it is refused or gone soon, whatever its key.
  if (peer === null) return remoteAddress ?? 'unknown'
  if (trusted.none || !trusted.isTrusted(peer)) return peer.address
  const hops = readHops()
  let leftmostTrusted: IpAddress | null = null
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]
    if (hop === null || hop === undefined) return peer.address
    if (!trusted.isTrusted(hop)) return hop.address
    leftmostTrusted = hop
  }
  return (leftmostTrusted ?? peer).address
}
