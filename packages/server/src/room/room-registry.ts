import { CLOSE_DOCUMENT_DELETED, updateMetaOf } from '@quire/protocol'
import type { CommitQueue } from '../commit/commit-queue.js'
import { receiveCloneFrames } from '../fanout/clone-frames.js'
import type { Fanout } from '../fanout/fanout.js'
import type { Log } from '../log.js'
import type { TrafficCounters } from '../metrics/traffic-counters.js'
import { QuireError } from '../quire-error.js'
import type { Storage, StoredLog } from '../storage/storage.js'
import type { RelayScheduler } from './relay-scheduler.js'
import { createRoom, type RemoteClone, type Room, type RoomOptions } from './room.js'

/**
 * The open rooms of this process. A room is loaded once however many connections ask
 * for it at the same time, and evicted from memory when its last peer has left and its
 * writes are durable (unless someone joined again meanwhile).
 */
export interface RoomRegistry {
  open(name: string): Promise<Room>
  get(name: string): Room | undefined
  /** Evicts `room` once it has no peers and its writes are committed. */
  releaseIfIdle(room: Room): void
  readonly size: number
  /**
   * Rooms loaded from storage since the registry was made; a room evicted and opened
   * again counts again, connections that asked for a room while it loaded do not.
   */
  readonly loads: number
  /** Resolves when pending evictions are done. */
  settled(): Promise<void>
  /**
   * Every open room takes in what storage holds that it lacks: after the traffic between
   * clones was interrupted, whatever other clones committed meanwhile.
   */
  catchUpFromStorage(): Promise<void>
  /** The same for one room, if open (another clone just started publishing its updates here). */
  catchUpRoom(name: string): Promise<void>
  /** Another clone started following `name`: the presence of this clone's peers there is published. */
  publishLocalPresence(name: string): void
  /** A clone stopped: the presence it brought leaves every room. */
  removeClonePresence(clone: string): void
  /**
   * `name`'s document is being deleted: from now until `allow(name)`, opening it fails
   * with QuireError 'document-deleted' (storage's tombstone takes over once written), and
   * the room, if open, leaves memory at once with its peers closed with 4404.
   */
  refuse(name: string): void
  allow(name: string): void
  /**
   * Updates of `name` are durable now. A room opened while the store did not hold its
   * document reports it created (`onCreated`) the first time.
   */
  committed(name: string): void
}

/** Why a room left memory: its last peer left (`idle`), or its document was deleted (`deleted`). */
export type EvictionReason = 'idle' | 'deleted'

export interface RoomRegistryOptions {
  readonly storage: Storage
  readonly commitQueue: CommitQueue
  readonly relays: RelayScheduler
  /** Sees the log a room is about to open from, and may replace it (by a compacted one). */
  readonly prepareLog?: (name: string, log: StoredLog) => Promise<StoredLog>
  /** Told when a room has left memory, and why (the room, for what it still knows: its authors). */
  readonly onEvicted?: (name: string, room: Room, reason: EvictionReason) => void
  /** Told when a room has gone quiet after accepting updates; see `RoomOptions.onQuiet`. */
  readonly onQuiet?: (name: string) => boolean
  /** Told when the first write of a room opened while the store did not hold it is durable. */
  readonly onCreated?: (name: string) => void
  /** The traffic between clones; absent in a single process. */
  readonly fanout?: Fanout
  /** Where rooms count what they relay; null without metrics. */
  readonly counters?: TrafficCounters | null
  readonly log: Log
}

export function createRoomRegistry(options: RoomRegistryOptions): RoomRegistry {
  const rooms = new Map<string, Room>()
  const loading = new Map<string, Promise<Room>>()
  const evictions = new Set<Promise<void>>()
  let loads = 0
  const onQuiet: RoomOptions['onQuiet'] = (room) => options.onQuiet?.(room.name) ?? false
  const { fanout, log } = options
  const publishPresence: RoomOptions['publishPresence'] = fanout ? (doc, frame) => fanout.publish(doc, [frame]) : undefined
  // One owner object per other clone, for the presence it brings into rooms.
  const clones = new Map<string, RemoteClone>()
  const cloneNamed = (clone: string): RemoteClone => {
    let known = clones.get(clone)
    if (!known) clones.set(clone, (known = { clone }))
    return known
  }

  // Documents being deleted (see refuse).
  const refused = new Set<string>()
  // Open rooms whose document the store did not hold when they opened (see committed).
  const unborn = new Set<string>()
  const deletedError = (name: string): QuireError => new QuireError('document-deleted', `the document ${JSON.stringify(name)} was deleted`)

  /** `room` leaves memory now, its peers closed with 4404: its document was deleted (here or by another clone). */
  const dropDeleted = (room: Room): void => {
    room.disconnectAll(CLOSE_DOCUMENT_DELETED, 'document deleted')
    if (rooms.get(room.name) !== room) return
    rooms.delete(room.name)
    room.close()
    unborn.delete(room.name)
    fanout?.unsubscribe(room.name)
    options.onEvicted?.(room.name, room, 'deleted')
  }

  const load = async (name: string): Promise<Room> => {
    // The position first, then the load (see Fanout): nothing committed in between is missed.
    const position = fanout ? await fanout.position(name) : null
    loads++
    // The tombstone beside the load, not after it: a room opens as fast as before.
    const [loaded, refusedUntil] = await Promise.all([options.storage.load(name), options.storage.tombstone(name)])
    if (refusedUntil !== null || refused.has(name)) throw deletedError(name)
    const { updates } = options.prepareLog ? await options.prepareLog(name, loaded) : loaded
    // Deleted while it loaded.
    if (refused.has(name)) throw deletedError(name)
    // Only a room that opens empty asks (an explicit create leaves an empty document that exists).
    const isNew = options.onCreated !== undefined && loaded.updates.length === 0 && (await options.storage.info(name)) === null
    if (refused.has(name)) throw deletedError(name)
    const room = createRoom({
      name,
      storedUpdates: updates,
      commits: options.commitQueue,
      onQuiet,
      relays: options.relays,
      counters: options.counters ?? null,
      ...(publishPresence ? { publishPresence } : {})
    })
    rooms.set(name, room)
    if (isNew) unborn.add(name)
    if (fanout && position !== null) {
      fanout.subscribe(name, position, (frames, clone) => receiveCloneFrames(room, frames, cloneNamed(clone), log, dropDeleted))
    }
    return room
  }

  const catchUp = async (room: Room): Promise<void> => {
    const { updates } = await options.storage.load(room.name)
    if (rooms.get(room.name) !== room) return
    // Durable already: kept and relayed where the room lacks it, not stored again.
    for (const update of updates) room.accept(update, updateMetaOf(update), null)
  }

  return {
    open(name) {
      const room = rooms.get(name)
      if (room) return Promise.resolve(room)
      let promise = loading.get(name)
      if (!promise) {
        promise = load(name).finally(() => loading.delete(name))
        loading.set(name, promise)
      }
      return promise
    },
    get(name) {
      return rooms.get(name)
    },
    releaseIfIdle(room) {
      if (room.peerCount > 0) return
      const eviction = options.commitQueue.whenCommitted().then(() => {
        if (room.peerCount > 0 || rooms.get(room.name) !== room) return
        rooms.delete(room.name)
        room.close()
        unborn.delete(room.name)
        fanout?.unsubscribe(room.name)
        options.onEvicted?.(room.name, room, 'idle')
      })
      evictions.add(eviction)
      void eviction.finally(() => evictions.delete(eviction))
    },
    get size() {
      return rooms.size
    },
    get loads() {
      return loads
    },
    async settled() {
      await Promise.all(evictions)
    },
    async catchUpFromStorage() {
      for (const room of [...rooms.values()]) await catchUp(room)
    },
    async catchUpRoom(name) {
      const room = rooms.get(name)
      if (room) await catchUp(room)
    },
    publishLocalPresence(name) {
      rooms.get(name)?.publishLocalPresence()
    },
    refuse(name) {
      refused.add(name)
      const room = rooms.get(name)
      if (room) dropDeleted(room)
    },
    allow(name) {
      refused.delete(name)
    },
    committed(name) {
      if (unborn.delete(name)) options.onCreated?.(name)
    },
    removeClonePresence(clone) {
      const known = clones.get(clone)
      if (!known) return
      clones.delete(clone)
      for (const room of rooms.values()) room.removeClonePresence(known)
    }
  }
}
