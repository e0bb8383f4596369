import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Fanout, FanoutEvents, FanoutPosition, FanoutReceive, Log } from '@quire/server'

export interface RedisFanoutOptions {
  /** `redis://host:port/db`; the database number is honoured. */
  readonly url: string
  /** Put before every key, so several deployments or test runs share one Redis. Default `quire:`. */
  readonly prefix?: string
  /**
   * How long a stream entry stays at least. Entries are durable in storage before they
   * are published, so this only needs to cover how far a reading clone may lag. Default 60 s.
   */
  readonly retentionMs?: number
  /** How often a clone renews its heartbeat and checks the others'. Default 5 s; a heartbeat lives 3 times that. */
  readonly heartbeatMs?: number
  readonly log?: Log
  /** Default: random. */
  readonly cloneId?: string
}

/** A position not known yet: Redis could not be asked. */
const UNKNOWN: FanoutPosition = '?'
const READ_COUNT = 1000
const BLOCK_MS = 1000
/** Control entries kept: only the newest matter. */
const CONTROL_MAXLEN = 1000
/**
 * How long a clone stays in the registry after its last beat. Long beside any beat
 * period, so that every clone, even one that beats late, sees a dead one there and
 * notices its heartbeat is gone; short enough that restarts (a new id each) do not pile up.
 */
const CLONE_REGISTRY_KEEP_MS = 10 * 60_000

interface Subscription {
  readonly doc: string
  /** The `rooms` stream's last id before the room was loaded: broadcasts after it are delivered. */
  readonly from: FanoutPosition
  readonly receive: FanoutReceive
  /**
   * The other clones known to have the room open. With none, nothing is published for
   * it: a room that routing by document keeps on one clone costs Redis nothing per commit.
   */
  readonly followers: Set<string>
}

type StreamEntry = [id: Buffer, fields: Buffer[]]
type StreamEntries = [key: Buffer, entries: StreamEntry[]][]

/**
 * Traffic between clones on Redis Streams (see `Fanout`). Keys, under the prefix:
 *
 *   inbox:<id>  a stream per clone, read by that clone only: the frames other clones
 *               publish to it { c: sender, r: room, f: frame, f: frame… }, and their
 *               answers { c: sender, r: room, k: 'here' }
 *   rooms       a stream every clone reads: marks { c, r: room, k: 'open' | 'close' },
 *               and frames for every clone with the room open { c, r, f… } (a deletion,
 *               or an update committed by a clone that does not have the room open)
 *   control     a stream of { c: clone id, k: 'resync' }: a clone whose publishing was
 *               interrupted asks every clone to catch up from storage
 *   clone:<id>  a heartbeat with a TTL; when it expires, the clone is taken for dead:
 *               its presence goes, and every clone catches its open rooms up from
 *               storage (it may have committed updates it never published)
 *   clones      a sorted set of every clone that beat lately (score: when, by its own
 *               clock), so each clone learns of the others without waiting for their
 *               traffic; members are dropped after CLONE_REGISTRY_KEEP_MS
 *
 * Streams are trimmed to the retention window at each append (XADD MINID ~), and expire
 * when nobody has written to them for twice that.
 *
 * A clone publishes a room's frames only while another clone has the room open (its
 * followers), to each follower's inbox: routing by document, which keeps most rooms on
 * one clone, keeps them off Redis, and a clone wakes only for what is meant for it (one
 * stream shared by a room's clones would wake each of them for its own entries too, and
 * its blocking read would have to name every open room). Who follows is learnt without
 * a gap:
 *
 *   - A clone that opens a room appends `open` to `rooms` (once its reader holds its
 *     inbox position, so it reads every answer).
 *   - A clone with the room open that reads `open` adds the opener to its followers,
 *     from then on publishes to its inbox, and first appends `here` there.
 *   - A clone that reads `here` adds the sender (answering with a `here` of its own if
 *     the sender is new to it), and catches the room up from storage: what the sender
 *     committed before it started publishing (its `here` came first) is durable, so
 *     storage has it; everything after comes to the inbox.
 *   - A clone that closes the room appends `close`; a clone that dies is dropped from
 *     every room's followers with its heartbeat.
 *   - Whenever a clone starts publishing for another (from `open`, `here`, or frames it
 *     received from that clone), it appends a `here` for it: only that makes the other
 *     catch up on what was committed before.
 *
 * Two connections per clone: one for commands, one that reads the control stream, `rooms`
 * and its inbox in one blocking XREAD, whatever rooms are open. Publishing does not queue
 * while Redis is away (a queue would grow without bound); what could not be published is
 * recovered from storage instead: the publishing clone asks for a resync once it is back,
 * and every clone whose reader lost its connection retakes its positions, resyncs by
 * itself and announces its rooms again.
 */
export interface RedisFanout extends Fanout {
  /**
   * Resolves true once both connections are up and the reader knows where it starts,
   * or false after `timeoutMs`: a clone should not take clients before (the rooms it
   * opened meanwhile would be announced late, and presence published meanwhile would
   * be missed).
   */
  whenConnected(timeoutMs: number): Promise<boolean>
}

export function createRedisFanout(options: RedisFanoutOptions): RedisFanout {
  const prefix = options.prefix ?? 'quire:'
  const retentionMs = options.retentionMs ?? 60_000
  const heartbeatMs = options.heartbeatMs ?? 5000
  const cloneId = options.cloneId ?? randomBytes(6).toString('hex')
  const log: Log = options.log ?? (() => {})
  const controlKey = `${prefix}control`
  const roomsKey = `${prefix}rooms`
  const inboxKey = (clone: string): string => `${prefix}inbox:${clone}`
  const ownInboxKey = inboxKey(cloneId)
  const heartbeatKey = (clone: string): string => `${prefix}clone:${clone}`
  const registryKey = `${prefix}clones`

  const connectionOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false }
  // Auto-pipelining: the publishes of one group commit (one per document) leave in one write.
  const commands = new Redis(options.url, { ...connectionOptions, enableAutoPipelining: true, connectionName: `quire-${cloneId}` })
  const reader = new Redis(options.url, { ...connectionOptions, connectionName: `quire-${cloneId}-reader` })
  for (const [name, connection] of [['commands', commands], ['reader', reader]] as const) {
    // ioredis reconnects by itself (every few hundred ms); without a listener an error
    // event would end the process. The first error of an outage is logged, and the end.
    let down = false
    connection.on('error', (error: Error) => {
      if (down) return
      down = true
      log('warn', `Redis (${name}) unreachable, reconnecting: ${error.message}`)
    })
    connection.on('ready', () => {
      if (!down) return
      down = false
      log('info', `Redis (${name}) reachable again`)
    })
  }
  // A heartbeat as soon as the clone can beat, not a period later.
  commands.on('ready', () => {
    if (events !== null) beat().catch(() => {})
  })

  // When each stream's expiry was last pushed back (Date.now()). Once per half retention
  // window is enough (it expires 1.5 to 2 windows after its last entry), and a publish is
  // then one XADD, not MULTI, XADD, PEXPIRE, EXEC. Entries older than the expiry are
  // dropped at each heartbeat.
  const expiryRenewedAt = new Map<string, number>()
  const publishFailedWith = (error: unknown): void => {
    if (!publishFailed) log('warn', `publishing to other clones failed (they will catch up from storage): ${error instanceof Error ? error.message : String(error)}`)
    publishFailed = true
  }
  const subscriptions = new Map<string, Subscription>()
  // Rooms whose `open` (or an answer) is still to be appended: announced once the reader
  // holds its positions and Redis takes commands.
  const unannounced = new Set<string>()
  // Where the reader stands in each stream it reads; UNKNOWN until it has asked Redis.
  let controlPosition: FanoutPosition = UNKNOWN
  let roomsPosition: FanoutPosition = UNKNOWN
  let inboxPosition: FanoutPosition = UNKNOWN
  let events: FanoutEvents | null = null
  let closed = false
  let publishFailed = false
  // Whether each other clone in the registry had its heartbeat when last checked.
  const cloneAlive = new Map<string, boolean>()
  let beaten = false
  let heartbeatTimer: ReturnType<typeof setInterval> | null = null

  const lastId = async (connection: Redis, key: string): Promise<FanoutPosition> => {
    const last = (await connection.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][]
    return last[0]?.[0] ?? '0-0'
  }

  /** Where the reader starts (again): the end of each stream it reads. */
  const takePositions = async (): Promise<void> => {
    const [control, rooms, inbox] = await Promise.all([lastId(reader, controlKey), lastId(reader, roomsKey), lastId(reader, ownInboxKey)])
    controlPosition = control
    roomsPosition = rooms
    inboxPosition = inbox
  }

  /** One stream entry, the stream trimmed to the retention window, its expiry pushed back. */
  const append = (key: string, fields: (string | Buffer)[]): Promise<unknown> => {
    const now = Date.now()
    const added = commands.xadd(key, 'MINID', '~', `${now - retentionMs}-0`, '*', ...fields)
    const renewed = expiryRenewedAt.get(key)
    if (renewed === undefined || now - renewed > retentionMs / 2) {
      expiryRenewedAt.set(key, now)
      commands.pexpire(key, retentionMs * 2).catch(publishFailedWith)
    }
    return added
  }

  /**
   * Appends `open` (to `rooms`) or `here` (to the inbox of `to`) for a room open here. One
   * that cannot be appended leaves the room to be announced again (`open`) once Redis is
   * back, which starts the exchange anew: the other clones answer, and each side catches
   * up from storage.
   */
  const mark = (subscription: Subscription, kind: 'open' | 'here', to?: string): void => {
    const retry = (): void => {
      unannounced.add(subscription.doc)
    }
    if (closed) return
    // Before the reader holds its inbox position, an answer could land unread.
    if (commands.status !== 'ready' || inboxPosition === UNKNOWN) return retry()
    const fields = ['c', cloneId, 'r', subscription.doc, 'k', kind]
    append(to === undefined ? roomsKey : inboxKey(to), fields).catch(retry)
  }

  const announcePending = (): void => {
    for (const doc of [...unannounced]) {
      unannounced.delete(doc)
      const subscription = subscriptions.get(doc)
      if (subscription) mark(subscription, 'open')
    }
  }

  /**
   * A clone that now has the room open: published for from now on, shown the presence
   * here, and told with a `here` (however this clone learnt of it), since only a `here`
   * makes it catch up on what this clone committed before.
   */
  const follow = (subscription: Subscription, clone: string): boolean => {
    if (subscription.followers.has(clone)) return false
    subscription.followers.add(clone)
    events?.followed(subscription.doc)
    mark(subscription, 'here', clone)
    return true
  }

  const handleMark = (subscription: Subscription, clone: string, kind: string): void => {
    if (kind === 'open') {
      // Answered even by a clone that follows the opener already: it may be announcing
      // again after losing its reader, and only an answer tells it who follows.
      if (!follow(subscription, clone)) mark(subscription, 'here', clone)
    } else if (kind === 'here') {
      follow(subscription, clone)
      // It publishes to this clone from its `here` on; what it committed before is durable.
      events?.catchUp(subscription.doc)
    } else if (kind === 'close') {
      subscription.followers.delete(clone)
    }
  }

  /**
   * One entry of `rooms` or of the inbox, for a room open here. Marks are `open`/`close`
   * on `rooms` and `here` in an inbox; frames in an inbox come from a follower.
   */
  const handleRoomEntry = (fields: Buffer[], inInbox: boolean): void => {
    const parsed = parseRoomEntry(fields)
    if (parsed === null || parsed.clone === cloneId) return
    const subscription = subscriptions.get(parsed.doc)
    if (!subscription) return
    if (parsed.kind !== undefined) {
      if ((parsed.kind === 'here') === inInbox) handleMark(subscription, parsed.clone, parsed.kind)
      return
    }
    // A clone publishing to this one has the room open (it read an `open` of this clone's).
    if (inInbox) follow(subscription, parsed.clone)
    subscription.receive(framesOf(fields), parsed.clone)
  }

  const handleEntries = (streams: StreamEntries): void => {
    for (const [keyBytes, entries] of streams) {
      const key = keyBytes.toString()
      const last = entries.at(-1)
      if (last === undefined) continue
      if (key === controlKey) {
        controlPosition = last[0].toString()
        for (const [, fields] of entries) {
          const clone = fieldOf(fields, 'c')
          if (clone !== cloneId && fieldOf(fields, 'k') === 'resync') {
            log('info', `clone ${clone} could not publish for a while: catching up open rooms from storage`)
            events?.resync()
          }
        }
      } else if (key === roomsKey) {
        roomsPosition = last[0].toString()
        for (const [, fields] of entries) handleRoomEntry(fields, false)
      } else if (key === ownInboxKey) {
        inboxPosition = last[0].toString()
        for (const [, fields] of entries) handleRoomEntry(fields, true)
      }
    }
  }

  /**
   * Broadcasts on `rooms` between the room's position (taken before its load) and where
   * the reader stood when it subscribed: read before the room was open here, so not
   * delivered then (a deletion committed during the load).
   */
  const deliverMissedBroadcasts = (subscription: Subscription): void => {
    const upTo = roomsPosition
    if (subscription.from === UNKNOWN || upTo === UNKNOWN || upTo === subscription.from) return
    ;(commands.xrangeBuffer(roomsKey, `(${subscription.from}`, upTo) as Promise<StreamEntry[]>)
      .then((entries) => {
        for (const [, fields] of entries) {
          const parsed = parseRoomEntry(fields)
          // Frames only (marks read then were answered by this clone's own `open` since),
          // and only while this subscription is still the room's.
          if (parsed === null || parsed.kind !== undefined || parsed.clone === cloneId || parsed.doc !== subscription.doc) continue
          if (subscriptions.get(subscription.doc) === subscription) subscription.receive(framesOf(fields), parsed.clone)
        }
      })
      .catch((error: unknown) => log('warn', `reading what was broadcast while ${JSON.stringify(subscription.doc)} loaded failed: ${error instanceof Error ? error.message : String(error)}`))
  }

  const readLoop = async (): Promise<void> => {
    // Set when the reader lost Redis after having read: whatever was published meanwhile
    // may be trimmed or missed, so every position is retaken and every room catches up.
    let interrupted = false
    while (!closed) {
      if (reader.status !== 'ready') {
        await new Promise((resolve) => setTimeout(resolve, 100))
        continue
      }
      try {
        if (interrupted || inboxPosition === UNKNOWN) {
          await takePositions()
          if (interrupted) {
            interrupted = false
            events?.resync()
            // Marks appended meanwhile were not read: a clone that opened a room then waits
            // for an answer from this one. Announcing every room again starts the exchange anew.
            for (const doc of subscriptions.keys()) unannounced.add(doc)
          }
        }
        if (unannounced.size > 0 && commands.status === 'ready') announcePending()
        const result = (await reader.callBuffer('XREAD', 'COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', controlKey, roomsKey, ownInboxKey, controlPosition, roomsPosition, inboxPosition)) as StreamEntries | null
        if (result) handleEntries(result)
      } catch (error) {
        if (closed) return
        interrupted = true
        log('warn', `reading other clones' traffic failed, catching up from storage once Redis is back: ${error instanceof Error ? error.message : String(error)}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }

  const beat = async (): Promise<void> => {
    const now = Date.now()
    for (const [key, renewed] of expiryRenewedAt) if (now - renewed > retentionMs * 2) expiryRenewedAt.delete(key)
    if (commands.status !== 'ready') return
    const stillBeating = (await commands.exists(heartbeatKey(cloneId))) === 1
    // The heartbeat before the registry entry: a clone found in the registry has its heartbeat.
    await commands.set(heartbeatKey(cloneId), '1', 'PX', heartbeatMs * 3)
    await commands.zadd(registryKey, now, cloneId)
    if (beaten && !stillBeating) {
      // Taken for dead meanwhile (a stall past the heartbeat's life, or Redis lost its
      // keys): the others dropped this clone from their rooms' followers, and its clients'
      // presence. Every room starts again as if just opened here.
      log('warn', 'this clone\'s heartbeat had expired, so the other clones took it for dead: announcing its open rooms again')
      for (const subscription of subscriptions.values()) {
        subscription.followers.clear()
        unannounced.add(subscription.doc)
      }
      announcePending()
    }
    if (publishFailed) {
      publishFailed = false
      await commands.xadd(controlKey, 'MAXLEN', '~', CONTROL_MAXLEN, '*', 'c', cloneId, 'k', 'resync')
    }
    await commands.zremrangebyscore(registryKey, '-inf', now - CLONE_REGISTRY_KEEP_MS)
    const others = (await commands.zrange(registryKey, 0, -1)).filter((clone) => clone !== cloneId)
    const alive = await Promise.all(others.map(async (clone) => (await commands.exists(heartbeatKey(clone))) !== 0))
    const registered = new Set(others)
    for (const clone of cloneAlive.keys()) if (!registered.has(clone)) cloneAlive.delete(clone)
    // A clone already dead at this clone's first beat died before this clone opened any
    // room, so those rooms were loaded after its last commit: nothing to catch up.
    const firstBeat = !beaten
    beaten = true
    others.forEach((clone, i) => {
      const wasAlive = cloneAlive.get(clone)
      cloneAlive.set(clone, alive[i] === true)
      // Once per death: a clone cut off from Redis for a while may come back, and die later.
      if (alive[i] === true || wasAlive === false || firstBeat) return
      for (const subscription of subscriptions.values()) subscription.followers.delete(clone)
      log('info', `clone ${clone} stopped (its heartbeat expired): its clients' presence goes, and open rooms catch up from storage`)
      events?.cloneGone(clone)
    })
  }

  // Reading from creation on, not from `start`: `whenConnected` waits for the reader's positions.
  const reading = readLoop()

  return {
    cloneId,

    async position() {
      // One position for every room: broadcasts on `rooms` after it reach a room opened
      // from it; its followers' frames come to the inbox, from their `here` on.
      if (commands.status !== 'ready') return UNKNOWN
      try {
        return await lastId(commands, roomsKey)
      } catch {
        return UNKNOWN
      }
    },

    subscribe(doc, from, receive) {
      const subscription: Subscription = { doc, from, receive, followers: new Set() }
      subscriptions.set(doc, subscription)
      unannounced.delete(doc)
      // After the subscription, so that every answer finds it.
      mark(subscription, 'open')
      deliverMissedBroadcasts(subscription)
    },

    unsubscribe(doc) {
      const subscription = subscriptions.get(doc)
      if (!subscription) return
      subscriptions.delete(doc)
      unannounced.delete(doc)
      // Lost with Redis, it costs the followers only publishing for a while (until this clone's heartbeat goes).
      if (!closed && commands.status === 'ready') append(roomsKey, ['c', cloneId, 'r', doc, 'k', 'close']).catch(() => {})
    },

    publish(doc, frames, options) {
      if (frames.length === 0 || closed) return
      const subscription = subscriptions.get(doc)
      // Open here and no other clone has it open: nobody would read it.
      if (options?.toEveryClone !== true && subscription?.followers.size === 0) return
      if (commands.status !== 'ready') {
        publishFailed = true
        return
      }
      const fields: (string | Buffer)[] = ['c', cloneId, 'r', doc]
      for (const frame of frames) fields.push('f', Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength))
      // Not open here (an update committed through the API), or a deletion, which a clone
      // that opened the room a moment ago must hear of: to every clone with it open.
      if (options?.toEveryClone === true || subscription === undefined) {
        append(roomsKey, fields).catch(publishFailedWith)
        return
      }
      for (const follower of subscription.followers) append(inboxKey(follower), fields).catch(publishFailedWith)
    },

    start(handlers) {
      events = handlers
      heartbeatTimer = setInterval(() => {
        beat().catch((error: unknown) => log('warn', `heartbeat: ${error instanceof Error ? error.message : String(error)}`))
      }, heartbeatMs)
      heartbeatTimer.unref()
      beat().catch(() => {})
    },

    get connected() {
      return commands.status === 'ready' && reader.status === 'ready'
    },

    async whenConnected(timeoutMs) {
      const until = Date.now() + timeoutMs
      // And the reader holds its positions: what is published to this clone from now on is read.
      while (commands.status !== 'ready' || reader.status !== 'ready' || inboxPosition === UNKNOWN) {
        if (Date.now() >= until || closed) return false
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      return true
    },

    async close() {
      closed = true
      if (heartbeatTimer !== null) clearInterval(heartbeatTimer)
      // Other clones drop this one's presence at once instead of after the heartbeat's TTL.
      if (commands.status === 'ready') await commands.del(heartbeatKey(cloneId)).catch(() => {})
      reader.disconnect()
      await reading
      await commands.quit().catch(() => commands.disconnect())
    }
  }
}

/** `{ c: clone, r: room, k: kind }` or `{ c: clone, r: room, f: frame… }`; null for anything else. */
function parseRoomEntry(fields: readonly Buffer[]): { clone: string; doc: string; kind?: string } | null {
  if (fields.length < 6 || !isField(fields[0], 0x63) || !isField(fields[2], 0x72)) return null
  const clone = (fields[1] as Buffer).toString()
  const doc = (fields[3] as Buffer).toString()
  if (isField(fields[4], 0x6b)) return { clone, doc, kind: (fields[5] as Buffer).toString() }
  return isField(fields[4], 0x66) ? { clone, doc } : null
}

/** The frames of a frames entry (`c`, clone, `r`, room, `f`, frame…): views, not copies; the room keeps a copy of only what it keeps (see retainable). */
function framesOf(fields: readonly Buffer[]): Uint8Array[] {
  const frames: Uint8Array[] = []
  for (let i = 5; i < fields.length; i += 2) frames.push(fields[i] as Buffer)
  return frames
}

/** Whether a field name is the one letter `letter`, compared without making a string of it. */
function isField(name: Buffer | undefined, letter: number): boolean {
  return name !== undefined && name.length === 1 && name[0] === letter
}

function fieldOf(fields: readonly Buffer[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if ((fields[i] as Buffer).toString() === name) return (fields[i + 1] as Buffer).toString()
  return undefined
}
