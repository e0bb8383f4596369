/**
 * The room lives in the URL so that a link is the whole invitation: `/d/<name>`
 * opens document `<name>` in the rich-text editor, `/c/<name>` opens the same
 * document in the code editor, and `?token=` carries an optional access token.
 * The home page `/` has no document, so it is sent to a fresh random room (`/c`
 * alone to a fresh room in the code editor).
 */

/** Which editor a route shows. Both bind the same Y.Doc, each to its own shared type. */
export type EditorKind = 'rich-text' | 'code'

const ROUTE_PREFIXES: Readonly<Record<EditorKind, string>> = { 'rich-text': '/d/', code: '/c/' }

export interface RoomRoute {
  readonly editor: EditorKind
  readonly room: string
  readonly token: string | null
}

/** The editor a path asks for: `/c/…` (or `/c`) is the code editor, anything else the rich-text one. */
export function readEditorKind(url: URL): EditorKind {
  return url.pathname === '/c' || url.pathname.startsWith(ROUTE_PREFIXES.code) ? 'code' : 'rich-text'
}

/** Reads the room from a path like `/d/my%20notes` or `/c/my%20notes`; null when the path names no room. */
export function readRoomRoute(url: URL): RoomRoute | null {
  const editor = readEditorKind(url)
  const prefix = ROUTE_PREFIXES[editor]
  if (!url.pathname.startsWith(prefix)) return null
  const encoded = url.pathname.slice(prefix.length).replace(/\/+$/, '')
  if (encoded === '') return null
  let room: string
  try {
    room = decodeURIComponent(encoded)
  } catch {
    // A malformed escape is still a usable name; take the path literally.
    room = encoded
  }
  const token = url.searchParams.get('token')
  return { editor, room, token: token === null || token === '' ? null : token }
}

/** The page URL of a room in `editor`, optionally carrying a token (the share links). */
export function createRoomUrl(origin: string, editor: EditorKind, room: string, token?: string | null): URL {
  const url = new URL(ROUTE_PREFIXES[editor] + encodeURIComponent(room), origin)
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
