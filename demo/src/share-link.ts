/**
 * Sharing a room is sharing its URL. With auth on, the page's own token rides
 * along in `?token=`; a read-only link is minted by the server from the
 * current (write) token through `GET /api/share`, so the page never needs the
 * signing secret.
 */
import { createRoomUrl, type EditorKind } from './room-route.js'

export type ShareAccess = 'edit' | 'read'

export interface ShareOutcome {
  readonly url: string
  readonly copied: boolean
}

/** Asks the server for a read-only token of `room`, proving write access with `writeToken`. */
export async function requestReadOnlyToken(origin: string, room: string, writeToken: string): Promise<string> {
  const endpoint = new URL('/api/share', origin)
  endpoint.searchParams.set('room', room)
  endpoint.searchParams.set('access', 'read')
  const response = await fetch(endpoint, { headers: { Authorization: `Bearer ${writeToken}` } })
  if (!response.ok) {
    const body = await response.text().catch(() => '')
    throw new Error(`The server refused a read-only link (${response.status}${body ? `: ${body.slice(0, 200)}` : ''})`)
  }
  const payload: unknown = await response.json()
  const token = typeof payload === 'object' && payload !== null ? (payload as { token?: unknown }).token : undefined
  if (typeof token !== 'string' || token === '') throw new Error('The server answered without a token')
  return token
}

/** Builds the link for `access` (to the same editor as this page) and tries to put it on the clipboard. */
export async function createShareLink(
  origin: string,
  editor: EditorKind,
  room: string,
  token: string | null,
  access: ShareAccess
): Promise<ShareOutcome> {
  const linkToken = access === 'read' && token !== null ? await requestReadOnlyToken(origin, room, token) : token
  const url = createRoomUrl(origin, editor, room, linkToken).href
  return { url, copied: await copyText(url) }
}

async function copyText(text: string): Promise<boolean> {
  // The Clipboard API needs a secure context and a user gesture; when it is
  // refused the link is still shown selected, ready for a manual copy.
  if (!navigator.clipboard) return false
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    return false
  }
}
