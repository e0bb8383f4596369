/**
 * The room lives in the URL so that a link is the whole invitation: `/d/<name>`
 * opens document `<name>`, and `?token=` carries an optional access token.
 * The home page `/` has no document, so it is sent to a fresh random room.
 */

const ROOM_PREFIX = '/d/'

export interface RoomRoute {
  readonly room: string
  readonly token: string | null
}

/** Reads the room from a path like `/d/my%20notes`; null when the path names no room. */
export function readRoomRoute(url: URL): RoomRoute | null {
  if (!url.pathname.startsWith(ROOM_PREFIX)) return null
  const encoded = url.pathname.slice(ROOM_PREFIX.length).replace(/\/+$/, '')
  if (encoded === '') return null
  let room: string
  try {
    room = decodeURIComponent(encoded)
  } catch {
    // A malformed escape is still a usable name; take the path literally.
    room = encoded
  }
  const token = url.searchParams.get('token')
  return { room, token: token === null || token === '' ? null : token }
}

/** The page URL of a room, optionally carrying a token (the share links). */
export function createRoomUrl(origin: string, room: string, token?: string | null): URL {
  const url = new URL(ROOM_PREFIX + encodeURIComponent(room), origin)
  if (token != null && token !== '') url.searchParams.set('token', token)
  return url
}

// Unambiguous lowercase letters and digits: names are read aloud and typed by hand.
const ROOM_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'

/** A random room name, about 50 bits, so two people never collide by accident. */
export function createRandomRoomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(10))
  let name = ''
  for (const byte of bytes) name += ROOM_ALPHABET[byte % ROOM_ALPHABET.length]
  return `${name.slice(0, 5)}-${name.slice(5)}`
}
