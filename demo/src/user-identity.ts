/**
 * Who this browser is to the other people in a room: a display name and a caret
 * colour, kept in localStorage so they survive reloads and are shared by every
 * room opened in this browser. Both editors read the awareness field `user`:
 * Tiptap's caret extension takes `{ name, color }`, y-codemirror.next also
 * `colorLight` (the background of a remote selection).
 */

export interface UserIdentity {
  readonly name: string
  /** `#rrggbb`: the caret extension ignores any other colour syntax. */
  readonly color: string
}

const NAME_KEY = 'quire:name'
const COLOR_KEY = 'quire:color'
export const MAX_NAME_LENGTH = 40

// Saturated enough for a caret on white, dark enough for white label text.
const CARET_COLORS = ['#d9480f', '#2b8a3e', '#1971c2', '#9c36b5', '#c2255c', '#0c8599', '#e67700', '#5f3dc4']
const GUEST_ANIMALS = ['Otter', 'Heron', 'Lynx', 'Badger', 'Wren', 'Fox', 'Marten', 'Ibex', 'Puffin', 'Newt']

function pick<T>(items: readonly T[]): T {
  const index = crypto.getRandomValues(new Uint32Array(1))[0]! % items.length
  return items[index]!
}

function isCaretColor(value: string | null): value is string {
  return value !== null && /^#[0-9a-f]{6}$/i.test(value)
}

/** Trims and bounds a typed name; an empty name falls back to `fallback`. */
export function normalizeName(raw: string, fallback: string): string {
  const name = raw.replace(/\s+/g, ' ').trim().slice(0, MAX_NAME_LENGTH)
  return name === '' ? fallback : name
}

/** Loads the identity, creating and storing a random guest one on first visit. */
export function loadUserIdentity(storage: Storage): UserIdentity {
  const storedName = storage.getItem(NAME_KEY)
  const storedColor = storage.getItem(COLOR_KEY)
  const identity: UserIdentity = {
    name: storedName !== null && storedName.trim() !== '' ? storedName : `Guest ${pick(GUEST_ANIMALS)}`,
    color: isCaretColor(storedColor) ? storedColor : pick(CARET_COLORS)
  }
  saveUserIdentity(storage, identity)
  return identity
}

export function saveUserIdentity(storage: Storage, identity: UserIdentity): void {
  storage.setItem(NAME_KEY, identity.name)
  storage.setItem(COLOR_KEY, identity.color)
}

/** What goes into the awareness field `user`, read by both editors' remote carets and the presence list. */
export interface AwarenessUser {
  readonly name: string
  readonly color: string
  /** `color` at 20% opacity (`#rrggbbaa`): y-codemirror.next paints remote selections with it. */
  readonly colorLight: string
}

export function createAwarenessUser(identity: UserIdentity): AwarenessUser {
  return { name: identity.name, color: identity.color, colorLight: `${identity.color}33` }
}
