import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { BackoffPolicy } from './backoff.js'
import type { QuireClientError } from './quire-client-error.js'

/** State of the WebSocket: `connected` once the socket is open (the sync may still be running). */
export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected'

/** Anything constructible like the browser `WebSocket`, e.g. the `ws` package's class in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => unknown

/** Returns a token for the next connection attempt (e.g. from the application's backend). */
export type TokenSource = () => string | Promise<string>

export interface ConnectOptions {
  /** Server base URL, e.g. `ws://127.0.0.1:1234` or `wss://example.com/sync`. */
  readonly url: string
  /** Document name; any string (it is URL-encoded into the path). */
  readonly room: string
  /**
   * Sent as the `token` query parameter; the server's `authenticate` hook checks it. A
   * function is called before every connection attempt, so a session outlives its
   * tokens: when the server closes a connection because its token expired (4401 after
   * the connection was accepted), the session asks for a fresh one and reconnects at once.
   * A refusal of a token it was just given (4401/4403 before the connection was
   * accepted) is final until `reconnect()`, as with a fixed token.
   */
  readonly token?: string | TokenSource
  /** Keep a copy in IndexedDB so the document opens and edits offline. Default `true`. */
  readonly offline?: boolean
  /** IndexedDB database name of the local copy. Default `quire:<url>/<room>`. */
  readonly databaseName?: string
  /** Presence to share; by default a new `Awareness` that the session destroys with itself. */
  readonly awareness?: Awareness
  /** Reconnect delays; default `createFullJitterBackoff()`. */
  readonly backoff?: BackoffPolicy
  /** WebSocket class to use where there is no global one (Node 20: `import WebSocket from 'ws'`). */
  readonly WebSocketPolyfill?: WebSocketConstructor
  /** Connect right away. Default `true`; with `false`, call `reconnect()` to go online. */
  readonly connect?: boolean
}

export interface QuireSessionEvents {
  status: (status: ConnectionStatus) => void
  /** The local IndexedDB copy is loaded into the document (at once when `offline: false`). */
  loaded: () => void
  /** The first sync with the server is done. */
  synced: () => void
  saved: (saved: boolean | null) => void
  'unsaved-changes': (unsavedChanges: boolean) => void
  /** The server refused this session for good (close codes 4400-4499, e.g. 4401, 4403); no more retries. */
  closed: (event: { code: number; reason: string }) => void
  /**
   * The document was deleted on the server (close 4404): the session stops reconnecting.
   * Without unsaved changes the local copy is deleted too and `unsaved` is null. With
   * unsaved changes the local copy is kept, and `unsaved` is the whole local document as
   * one update (`Y.applyUpdate(new Y.Doc(), unsaved)`), so the application can offer to
   * save a copy under another name.
   */
  deleted: (event: { reason: string; unsaved: Uint8Array | null }) => void
  /** The server refuses this session's edits (read-only access); they stay local and unsaved. */
  'permission-denied': (reason: string) => void
  error: (error: QuireClientError) => void
}

export interface QuireSession {
  readonly doc: Y.Doc
  readonly awareness: Awareness
  readonly status: ConnectionStatus
  /** True once the local copy is loaded. */
  readonly loaded: boolean
  /** True once the first sync with the server completed (stays true while offline afterwards). */
  readonly synced: boolean
  readonly whenLoaded: Promise<void>
  readonly whenSynced: Promise<void>
  /**
   * `true`: every local change, including deletions, is durable on the server.
   * `false`: some local change is not yet acknowledged (it is in IndexedDB if `offline`).
   * `null`: unknown, because this server was never seen to send acknowledgements (no
   * `quire-hello` yet, or the last sync completed without one: a stock y-websocket server).
   */
  readonly saved: boolean | null
  /** Local changes exist that no server acknowledged as durable (known even offline, and across reloads). */
  readonly unsavedChanges: boolean
  on<Name extends keyof QuireSessionEvents>(name: Name, listener: QuireSessionEvents[Name]): () => void
  off<Name extends keyof QuireSessionEvents>(name: Name, listener: QuireSessionEvents[Name]): void
  /** Connect now, skipping any backoff wait; also resumes after `disconnect()` or a refusal. */
  reconnect(): void
  /** Close the connection and stop reconnecting; edits keep being stored locally. */
  disconnect(): void
  /**
   * Delete the IndexedDB copy and its saved-state record, and stop storing locally for
   * the rest of this session (e.g. on sign-out). Resolves once the database is deleted.
   */
  clearLocalData(): Promise<void>
  /** Disconnect, flush pending local writes and release everything; the `doc` stays usable. */
  destroy(): Promise<void>
}
