import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IndexeddbPersistence, clearDocument } from 'y-indexeddb'
import { Awareness } from 'y-protocols/awareness'
import * as idb from 'lib0/indexeddb'
import { uuidv4 } from 'lib0/random'
import { CLOSE_DOCUMENT_DELETED, CLOSE_UNAUTHORIZED, MESSAGE_AUTH, MESSAGE_QUIRE, MESSAGE_SYNC, QUIRE_EXTENSION_PARAM, decodeMessage, encodeMessage } from '@quire/protocol'
import { createFullJitterBackoff, type BackoffPolicy } from './backoff.js'
import { QuireClientError } from './quire-client-error.js'
import type { ConnectOptions, ConnectionStatus, QuireSession, QuireSessionEvents, TokenSource } from './quire-session.js'
import { SaveTracker, type AcknowledgementSupport } from './save-tracker.js'
import { decodeSavedStateRecord, encodeSavedStateRecord } from './saved-state-record.js'
import { abandonedRecordKeys, deleteTabRecords, holdTabLock, readTabRecords, tabRecordKey } from './tab-records.js'
import { TypedEmitter } from './typed-emitter.js'

/**
 * Opens a document: an IndexedDB copy (y-indexeddb) for offline work and a WebSocket
 * connection (y-websocket) to a Quire server, plus the bookkeeping that turns the
 * server's `quire-saved` acknowledgements into an exact `saved` state.
 *
 * Order of events: the local copy and the saved-state record load first, then the
 * socket opens, so the first sync step 1 already carries the local state and the
 * server receives everything it lacks in one sync step 2.
 */
export function connect(doc: Y.Doc, options: ConnectOptions): QuireSession {
  return new Session(doc, options)
}

/** Close codes 4400-4499 mean the server decided (auth, forbidden): retrying cannot help. */
const isPermanentClose = (code: number): boolean => code >= 4400 && code < 4500

interface Deferred {
  readonly promise: Promise<void>
  resolve(): void
}

function createDeferred(): Deferred {
  let resolve: () => void = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

function toBytes(value: unknown): Uint8Array | null {
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  return null
}

class Session implements QuireSession {
  readonly doc: Y.Doc
  readonly awareness: Awareness
  readonly whenLoaded: Promise<void>
  readonly whenSynced: Promise<void>

  private readonly provider: WebsocketProvider
  private persistence: IndexeddbPersistence | null = null
  private readonly databaseName: string
  private readonly ownsAwareness: boolean
  private readonly backoff: BackoffPolicy
  private readonly tracker = new SaveTracker()
  private readonly events = new TypedEmitter<QuireSessionEvents>()
  private readonly loadedSignal = createDeferred()
  private readonly syncedSignal = createDeferred()

  private currentStatus: ConnectionStatus
  private wantConnection: boolean
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private attempt = 0
  private helloOnThisConnection = false
  /** The server's state vector from its sync step 1 on the current connection. */
  private serverStateVector: Map<number, number> | null = null
  private isLoaded = false
  private isSynced = false
  private destroyed = false
  /** Until the stored record is merged, writing one would overwrite it with partial state. */
  private recordReady = false
  private writing: Promise<void> | null = null
  private writeAgain = false
  private lastSaved: boolean | null = null
  private lastUnsaved = false
  private readonly removeOnlineListener: () => void
  /** This tab's own saved-state record (see tab-records.ts). */
  private readonly recordKey = tabRecordKey(uuidv4())
  private releaseTabLock: (() => void) | null = null
  private readonly tokenSource: TokenSource | null
  /** The server sent something on the current connection: it was accepted, not refused. */
  private acceptedOnThisConnection = false
  /** The connection just closed was ended by its token's expiry: not a refusal, no `closed` event. */
  private tokenExpired = false
  /** Counts connection attempts, so a token that arrives for a superseded one is dropped. */
  private openings = 0

  constructor(doc: Y.Doc, options: ConnectOptions) {
    const WebSocketClass = options.WebSocketPolyfill ?? (globalThis as { WebSocket?: unknown }).WebSocket
    if (typeof WebSocketClass !== 'function') {
      throw new TypeError('@quire/client: no WebSocket class available; in Node pass `WebSocketPolyfill` (the `ws` package)')
    }
    this.doc = doc
    this.ownsAwareness = options.awareness === undefined
    this.awareness = options.awareness ?? new Awareness(doc)
    this.backoff = options.backoff ?? createFullJitterBackoff()
    this.wantConnection = options.connect ?? true
    this.currentStatus = this.wantConnection ? 'connecting' : 'disconnected'
    this.databaseName = options.databaseName ?? `quire:${options.url.replace(/\/+$/, '')}/${options.room}`
    this.whenLoaded = this.loadedSignal.promise
    this.whenSynced = this.syncedSignal.promise

    // The room also travels as a query parameter: URL parsers turn a path of "." or ".."
    // into a directory step before it is sent, and the Quire server prefers `room`.
    const params: Record<string, string> = { [QUIRE_EXTENSION_PARAM]: '1', room: options.room }
    this.tokenSource = typeof options.token === 'function' ? options.token : null
    if (typeof options.token === 'string') params['token'] = options.token
    // y-websocket appends the room to the URL path verbatim, so it is encoded here, once.
    this.provider = new WebsocketProvider(options.url, encodeURIComponent(options.room), doc, {
      connect: false,
      awareness: this.awareness,
      params,
      WebSocketPolyfill: WebSocketClass as typeof WebSocket,
      // Tabs sync through the server: a BroadcastChannel peer would also share our
      // IndexedDB record, and in Node lib0 emulates the channel across every provider
      // of the process, which would let "offline" clients sync with each other.
      disableBc: true,
      shouldReconnect: (event) => this.tokenExpired || !isPermanentClose(event.code)
    })
    this.installMessageHandlers()
    this.provider.on('status', ({ status }) => this.onProviderStatus(status))
    this.provider.on('connection-close', (event) => this.onConnectionClose(event))
    this.provider.on('sync', (synced: boolean) => {
      if (synced) this.onSynced()
    })
    this.provider.on('closed', (event) => this.events.emit('closed', { code: event.code, reason: event.reason }))
    doc.on('afterTransaction', this.onTransaction)
    this.removeOnlineListener = this.listenForBrowserNetwork()

    const hasIndexedDb = typeof (globalThis as { indexedDB?: unknown }).indexedDB !== 'undefined'
    if ((options.offline ?? true) && hasIndexedDb) this.openLocalCopy()
    else {
      this.recordReady = true
      queueMicrotask(() => {
        // Node without an IndexedDB implementation: work online only, and say so.
        if ((options.offline ?? true) && !hasIndexedDb) {
          this.reportError(new QuireClientError('local-storage', 'no IndexedDB in this environment: the document is not kept locally'))
        }
        this.markLoaded()
      })
    }
  }

  get status(): ConnectionStatus {
    return this.currentStatus
  }

  get loaded(): boolean {
    return this.isLoaded
  }

  get synced(): boolean {
    return this.isSynced
  }

  get saved(): boolean | null {
    return this.tracker.support === 'yes' ? !this.tracker.hasUnsavedChanges : null
  }

  get unsavedChanges(): boolean {
    return this.tracker.hasUnsavedChanges
  }

  on<Name extends keyof QuireSessionEvents>(name: Name, listener: QuireSessionEvents[Name]): () => void {
    return this.events.on(name, listener)
  }

  off<Name extends keyof QuireSessionEvents>(name: Name, listener: QuireSessionEvents[Name]): void {
    this.events.off(name, listener)
  }

  reconnect(): void {
    if (this.destroyed) return
    this.clearReconnectTimer()
    this.openings++
    this.attempt = 0
    // Drop the current socket without scheduling a retry, then open a new one now.
    this.wantConnection = false
    if (this.provider.ws !== null) this.provider.disconnect()
    this.wantConnection = true
    if (this.isLoaded) this.openSocket()
    else this.setStatus('connecting')
  }

  disconnect(): void {
    this.wantConnection = false
    this.openings++
    this.clearReconnectTimer()
    this.provider.disconnect()
    this.setStatus('disconnected')
  }

  async clearLocalData(): Promise<void> {
    const persistence = this.persistence
    this.persistence = null
    if (persistence !== null) {
      await this.writing
      await persistence.destroy()
    }
    await clearDocument(this.databaseName)
    this.releaseLock()
    // Cleared before the copy finished loading: nothing is left to load, go online now.
    this.recordReady = true
    this.markLoaded()
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    this.wantConnection = false
    this.clearReconnectTimer()
    this.removeOnlineListener()
    this.doc.off('afterTransaction', this.onTransaction)
    this.provider.destroy()
    if (this.ownsAwareness) this.awareness.destroy()
    this.setStatus('disconnected')
    const persistence = this.persistence
    if (persistence !== null) {
      // The write loop drains while the persistence is set: the record then holds the last change.
      await this.writing
      this.persistence = null
      await this.flushLocalWrites(persistence)
      // Nothing unsaved: the record says nothing another tab or a reload needs.
      if (!this.tracker.hasUnsavedChanges) {
        try {
          await deleteTabRecords(await persistence._db, [this.recordKey])
        } catch (error) {
          this.reportError(QuireClientError.from('local-storage', error))
        }
      }
      await persistence.destroy()
    }
    this.releaseLock()
    this.events.clear()
  }

  private releaseLock(): void {
    this.releaseTabLock?.()
    this.releaseTabLock = null
  }

  // --- local copy -------------------------------------------------------------

  private openLocalCopy(): void {
    const persistence = new IndexeddbPersistence(this.databaseName, this.doc)
    this.persistence = persistence
    persistence._db.catch((error: unknown) => {
      // Without IndexedDB (private mode, quota) the session still works online.
      this.reportError(QuireClientError.from('local-storage', error))
      this.recordReady = true
      this.markLoaded()
    })
    // Held before this tab's record is first written, so no other tab takes it for abandoned.
    const lockHeld = holdTabLock(this.databaseName, this.recordKey).then((release) => {
      if (this.destroyed || this.persistence !== persistence) release()
      else this.releaseTabLock = release
    })
    // Every tab's record: the loaded document holds every tab's edits.
    const recordsLoaded = persistence._db.then(readTabRecords).then(
      (records) => {
        for (const { value } of records) {
          const bytes = toBytes(value)
          const result = bytes === null ? { ok: false as const, reason: 'saved-state record is not binary' } : decodeSavedStateRecord(bytes)
          if (result.ok) this.tracker.merge(result.tracker)
          else this.reportError(new QuireClientError('invalid-saved-state', result.reason))
        }
        return records.map(({ key }) => key).filter((key) => key !== this.recordKey)
      },
      (error: unknown) => {
        this.reportError(QuireClientError.from('local-storage', error))
        return []
      }
    )
    void Promise.all([persistence.whenSynced, recordsLoaded, lockHeld]).then(async ([, otherRecords]) => {
      this.tracker.forgetBeyond(Y.decodeStateVector(Y.encodeStateVector(this.doc)))
      this.recordReady = true
      this.onTrackerChanged()
      this.markLoaded()
      await this.removeAbandonedRecords(persistence, otherRecords)
    })
  }

  /** Once this tab's record holds what they held, other tabs' abandoned records go. */
  private async removeAbandonedRecords(persistence: IndexeddbPersistence, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.writing
    if (this.persistence !== persistence) return
    try {
      await deleteTabRecords(await persistence._db, await abandonedRecordKeys(this.databaseName, keys))
    } catch (error) {
      this.reportError(QuireClientError.from('local-storage', error))
    }
  }

  private markLoaded(): void {
    if (this.isLoaded || this.destroyed) return
    this.isLoaded = true
    this.loadedSignal.resolve()
    this.events.emit('loaded')
    if (this.wantConnection) this.openSocket()
  }

  /** Writes the saved-state record; at most one write in flight, the last state always wins. */
  private scheduleRecordWrite(): void {
    if (this.persistence === null || !this.recordReady) return
    this.writeAgain = true
    if (this.writing !== null) return
    this.writing = this.writeRecords().finally(() => {
      this.writing = null
    })
  }

  private async writeRecords(): Promise<void> {
    while (this.writeAgain && this.persistence !== null) {
      this.writeAgain = false
      const bytes = encodeSavedStateRecord(this.tracker)
      try {
        await this.persistence.set(this.recordKey, bytes.slice().buffer)
      } catch (error) {
        this.reportError(QuireClientError.from('local-storage', error))
      }
    }
  }

  /**
   * y-indexeddb queues its writes without waiting for them. A read-only transaction
   * over both stores is ordered after every earlier write to them, so once it
   * completes a reopened database sees all of them.
   */
  private async flushLocalWrites(persistence: IndexeddbPersistence): Promise<void> {
    try {
      const db = await persistence._db
      const [updates, custom] = idb.transact(db, ['updates', 'custom'], 'readonly')
      await Promise.all([idb.count(updates as IDBObjectStore), idb.count(custom as IDBObjectStore)])
    } catch (error) {
      this.reportError(QuireClientError.from('local-storage', error))
    }
  }

  // --- tracking local changes -------------------------------------------------

  /** Every transaction that did not come from the server or the local copy is a local change to track. */
  private readonly onTransaction = (transaction: Y.Transaction): void => {
    const origin: unknown = transaction.origin
    if (origin === this.provider || origin instanceof IndexeddbPersistence) return
    const endClocks = new Map<number, number>()
    for (const [client, clock] of transaction.afterState) {
      if (clock > (transaction.beforeState.get(client) ?? 0)) endClocks.set(client, clock)
    }
    if (endClocks.size === 0 && transaction.deleteSet.clients.size === 0) return
    this.tracker.recordLocalChange(endClocks, transaction.deleteSet)
    this.onTrackerChanged()
  }

  private setSupport(support: AcknowledgementSupport): void {
    if (this.tracker.support === support) return
    this.tracker.support = support
    this.onTrackerChanged()
  }

  private onTrackerChanged(): void {
    this.scheduleRecordWrite()
    const saved = this.saved
    const unsaved = this.unsavedChanges
    if (unsaved !== this.lastUnsaved) {
      this.lastUnsaved = unsaved
      this.events.emit('unsaved-changes', unsaved)
    }
    if (saved !== this.lastSaved) {
      this.lastSaved = saved
      this.events.emit('saved', saved)
    }
  }

  // --- connection -------------------------------------------------------------

  private installMessageHandlers(): void {
    const handlers = this.provider.messageHandlers
    const readSync = handlers[MESSAGE_SYNC]
    // Remember the server's state vector from its sync step 1: it tells which of our
    // unacknowledged structs the server already holds (see resendUnacknowledged).
    handlers[MESSAGE_SYNC] = (encoder, decoder, provider, emitSynced, messageType) => {
      this.acceptedOnThisConnection = true
      const peeked = decodeMessage(decoder.arr, { validatePayloads: false })
      if (peeked.ok && peeked.message.type === 'sync-step-1') {
        try {
          this.serverStateVector = Y.decodeStateVector(peeked.message.stateVector)
        } catch {
          this.serverStateVector = null
        }
      }
      readSync?.(encoder, decoder, provider, emitSynced, messageType)
    }
    handlers[MESSAGE_QUIRE] = (_encoder, decoder) => this.receiveQuireMessage(decoder.arr)
    // A read-only session: its edits stay local and unsaved; tell the application why.
    const readAuth = handlers[MESSAGE_AUTH]
    handlers[MESSAGE_AUTH] = (encoder, decoder, provider, emitSynced, messageType) => {
      const decoded = decodeMessage(decoder.arr)
      if (decoded.ok && decoded.message.type === 'auth-permission-denied' && this.events.listenerCount('permission-denied') > 0) {
        this.events.emit('permission-denied', decoded.message.reason)
      } else readAuth?.(encoder, decoder, provider, emitSynced, messageType)
    }
  }

  private receiveQuireMessage(frame: Uint8Array): void {
    this.acceptedOnThisConnection = true
    const result = decodeMessage(frame)
    if (!result.ok) {
      this.reportError(new QuireClientError('invalid-server-message', result.error.reason))
      return
    }
    const message = result.message
    if (message.type === 'quire-hello') {
      this.helloOnThisConnection = true
      this.setSupport('yes')
    } else if (message.type === 'quire-saved') {
      this.helloOnThisConnection = true
      this.tracker.support = 'yes'
      this.tracker.applyAcknowledgement(Y.decodeStateVector(message.stateVector), Y.decodeUpdate(message.deleteSet).ds)
      this.onTrackerChanged()
    }
  }

  private onProviderStatus(status: ConnectionStatus): void {
    if (status === 'connecting') {
      this.helloOnThisConnection = false
      this.acceptedOnThisConnection = false
      this.serverStateVector = null
    }
    this.setStatus(status)
  }

  private onConnectionClose(event: { code: number; reason?: string } | null): void {
    this.serverStateVector = null
    this.tokenExpired = false
    // y-websocket schedules its own retry right after this event (exponential, no
    // jitter); switching it off here makes that timer a no-op, and ours takes over.
    this.provider.shouldConnect = false
    this.setStatus('disconnected')
    if (!this.wantConnection || this.destroyed) return
    const accepted = this.acceptedOnThisConnection
    this.acceptedOnThisConnection = false
    if (event !== null && event.code === CLOSE_UNAUTHORIZED && accepted && this.tokenSource !== null) {
      // The token expired on an accepted connection: a fresh one, at once. Its refusal,
      // if any, comes before the server sends anything, and is then final.
      this.tokenExpired = true
      this.openSocket()
      return
    }
    if (event !== null && isPermanentClose(event.code)) {
      this.wantConnection = false
      if (event.code === CLOSE_DOCUMENT_DELETED) void this.onDeleted(event.reason ?? '')
      return
    }
    this.scheduleReconnect()
  }

  /**
   * The document is gone on the server and a tombstone refuses it. What was saved there is
   * gone with it, so the local copy is deleted; but work the server never acknowledged
   * exists nowhere else, so then the copy stays and the application gets the document to
   * offer "save a copy".
   */
  private async onDeleted(reason: string): Promise<void> {
    const unsaved = this.tracker.hasUnsavedChanges ? Y.encodeStateAsUpdate(this.doc) : null
    if (unsaved === null && this.persistence !== null) {
      try {
        await this.clearLocalData()
      } catch (error) {
        this.reportError(QuireClientError.from('local-storage', error))
      }
    }
    if (!this.destroyed) this.events.emit('deleted', { reason, unsaved })
  }

  private onSynced(): void {
    this.attempt = 0
    // The server sends its hello before anything else, so a sync without one means
    // a server that does not acknowledge (e.g. the reference y-websocket server).
    if (!this.helloOnThisConnection) this.setSupport('no')
    if (!this.isSynced) {
      this.isSynced = true
      this.syncedSignal.resolve()
      this.events.emit('synced')
    }
    this.resendUnacknowledged()
  }

  /**
   * Our sync step 2 carries only what the server lacks. If the server already holds
   * structs we never got an acknowledgement for (the socket dropped between its commit
   * and its `quire-saved`), nothing would ever acknowledge them; send them again so the
   * server's next acknowledgement covers them. Deletions need no resend: a sync step 2
   * always carries the whole delete set.
   */
  private resendUnacknowledged(): void {
    const serverStateVector = this.serverStateVector
    const ws = this.provider.ws
    if (serverStateVector === null || ws === null || this.tracker.support === 'no') return
    const clients = this.tracker.clientsTheServerHasButNeverAcknowledged(serverStateVector)
    if (clients.length === 0) return
    const from = Y.decodeStateVector(Y.encodeStateVector(this.doc))
    for (const client of clients) from.set(client, this.tracker.acknowledged.get(client) ?? 0)
    const update = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(from))
    ws.send(encodeMessage({ type: 'sync-update', update }))
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== null) return
    const delay = Math.max(0, this.backoff(this.attempt++))
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      if (this.wantConnection && !this.destroyed && this.isLoaded) this.openSocket()
    }, delay)
  }

  /**
   * Opens the socket, with a fresh token first when `token` is a function. While the
   * token is fetched the status is `connecting`; a token for an attempt that was
   * superseded meanwhile (`disconnect()`, `reconnect()`, `destroy()`) is not used.
   */
  private openSocket(): void {
    const source = this.tokenSource
    if (source === null) {
      this.provider.connect()
      return
    }
    const opening = ++this.openings
    this.setStatus('connecting')
    Promise.resolve()
      .then(source)
      .then(
        (token) => {
          if (opening !== this.openings || !this.wantConnection || this.destroyed) return
          this.provider.params['token'] = token
          this.provider.connect()
        },
        (error: unknown) => {
          if (opening !== this.openings || !this.wantConnection || this.destroyed) return
          this.reportError(QuireClientError.from('token', error))
          this.setStatus('disconnected')
          this.scheduleReconnect()
        }
      )
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
  }

  /**
   * Follows the browser's idea of the network. On `offline` the socket is closed at once:
   * browsers keep a WebSocket open through a network loss and carry nothing over it
   * until a heartbeat times out, tens of seconds later, so `status` would keep saying
   * connected. On `online`, retry soon (still jittered) instead of waiting out a long backoff.
   */
  private listenForBrowserNetwork(): () => void {
    const target = globalThis as { addEventListener?: (name: string, listener: () => void) => void; removeEventListener?: (name: string, listener: () => void) => void }
    if (typeof target.addEventListener !== 'function') return () => {}
    const onOnline = (): void => {
      if (!this.wantConnection || this.destroyed || this.reconnectTimer === null) return
      this.clearReconnectTimer()
      this.attempt = 0
      this.scheduleReconnect()
    }
    const onOffline = (): void => {
      if (!this.destroyed) this.provider.ws?.close()
    }
    target.addEventListener('online', onOnline)
    target.addEventListener('offline', onOffline)
    return () => {
      target.removeEventListener?.('online', onOnline)
      target.removeEventListener?.('offline', onOffline)
    }
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.currentStatus) return
    this.currentStatus = status
    this.events.emit('status', status)
  }

  private reportError(error: QuireClientError): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', error)
    else console.error(error)
  }
}
