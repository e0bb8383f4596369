/**
 * Outer message types on the wire. 0-3 are y-websocket's (y-protocols); QUIRE is our
 * extension, only ever sent to a client that opted in (see README.md).
 */
export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
export const MESSAGE_QUERY_AWARENESS = 3
export const MESSAGE_QUIRE = 100

/** Sub-types of MESSAGE_SYNC, as in y-protocols/sync. */
export const SYNC_STEP_1 = 0
export const SYNC_STEP_2 = 1
export const SYNC_UPDATE = 2

/** Sub-types of MESSAGE_AUTH, as in y-protocols/auth. */
export const AUTH_PERMISSION_DENIED = 0

/** Sub-types of MESSAGE_QUIRE. */
export const QUIRE_HELLO = 0
export const QUIRE_SAVED = 1
/** Between server clones only (never to or from a client): the room's document was deleted. */
export const QUIRE_DELETED = 2

/** Version of the Quire extension a server announces in its hello. */
export const QUIRE_EXTENSION_VERSION = 1

/**
 * Query parameter a client adds to the WebSocket URL to opt in to the extension
 * (e.g. `ws://host:1234/room?quire=1`). Stock y-websocket clients never send it.
 */
export const QUIRE_EXTENSION_PARAM = 'quire'
