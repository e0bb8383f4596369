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

/** A position not known yet: Redis could not be asked when the room opened. */
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
  readonly key: string
  position: FanoutPosition
  readonly receive: FanoutReceive
  /**
   * The other clones known to have the room open. With none, nothing is published for
   * it: a room that routing by document keeps on one clone costs Redis nothing per commit.
   */
  readonly followers: Set<string>
}

/** What a room-stream entry that carries no frames says (field `k`), see createRedisFanout. */
type RoomMark = 'open' | 'here' | 'close'

type StreamEntries = [key: Buffer, entries: [id: Buffer, fields: Buffer[]][]][]

/**
 * Traffic between clones on Redis Streams (see `Fanout`). Keys, under the prefix:
 *
 *   room:<name as JSON>  a stream per room: entries { c: clone id, f: frame, f: frame… },
 *                        and marks { c: clone id, k: 'open' | 'close' } and
 *                        { c: clone id, k: 'here', t: the clone it answers }; trimmed to
 *                        the retention window at each append (XADD MINID ~), and expiring
 *                        when nobody has written to it for twice that
 *   control              a stream of { c: clone id, k: 'resync' }: a clone whose
 *                        publishing was interrupted asks every clone to catch up from storage
 *   clone:<id>           a heartbeat with a TTL; when it expires, the clone is taken for
 *                        dead: its presence goes, and every clone catches its open rooms
 *                        up from storage (it may have committed updates it never published)
 *   clones               a sorted set of every clone that beat lately (score: when, by its
 *                        own clock), so each clone learns of the others without waiting
 *                        for their traffic; members are dropped after CLONE_REGISTRY_KEEP_MS
 *
 * A clone publishes a room's frames only while another clone has the room open (its
 * followers), so that routing by document, which keeps most rooms on one clone, keeps
 * them off Redis. Who follows is learnt from the room's stream, without a gap:
 *
 *   - A clone that opens a room appends `open` (after taking its position, so it reads
 *     every answer).
 *   - A clone with the room open that reads `open` adds the opener to its followers, from
 *     then on publishes for it, and appends `here` addressed to it.
 *   - A clone that reads `here` addressed to it adds the sender (answering with a `here`
 *     of its own if the sender is new to it), and catches the room up from storage: what
 *     the sender committed before it started publishing (its `here` came after) is
 *     durable, so storage has it; everything after comes on the stream.
 *   - A clone that closes the room appends `close`; a clone that dies is dropped from
 *     every room's followers with its heartbeat.
 *   - Whenever a clone starts publishing for another (from `open`, `here`, or frames it
 *     saw that clone publish), it appends a `here` for it: only that makes the other
 *     catch up on what was committed before.
 *
 * Two connections per clone: one for commands, one that reads every subscribed stream
 * (and the control stream) in one blocking XREAD, re-issued when the set changes.
 * Publishing does not queue while Redis is away (a queue would grow without bound);
 * what could not be published is recovered from storage instead: the publishing clone
 * asks for a resync once it is back, and every clone whose reader lost its connection
 * retakes its positions and resyncs by itself.
 */
export interface RedisFanout extends Fanout {
  /**
   * Resolves true once both connections are up, or false after `timeoutMs`: a clone
   * should not take clients before (the rooms it opened meanwhile would catch up from
   * storage, and presence published meanwhile would be missed).
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
  const heartbeatKey = (clone: string): string => `${prefix}clone:${clone}`
  const registryKey = `${prefix}clones`
  const roomKey = (doc: string): string => `${prefix}room:${JSON.stringify(doc)}`

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
  // then one XADD, not MULTI, XADD, PEXPIRE, EXEC: a third of the cross-clone path's
  // Redis commands. Entries older than the expiry are dropped at each heartbeat.
  const expiryRenewedAt = new Map<string, number>()
  const publishFailedWith = (error: unknown): void => {
    if (!publishFailed) log('warn', `publishing to other clones failed (they will catch up from storage): ${error instanceof Error ? error.message : String(error)}`)
    publishFailed = true
  }
  const subscriptions = new Map<string, Subscription>()
  const byKey = new Map<string, Subscription>()
  // Rooms whose `open` (or an answer) could not be appended: announced again once Redis is back.
  const unannounced = new Set<string>()
  // Some subscription still waits for its position (see readLoop).
  let unknownPositions = false
  let controlPosition: FanoutPosition = UNKNOWN
  let events: FanoutEvents | null = null
  let closed = false
  let readerClientId: number | null = null
  let reading: Promise<void> = Promise.resolve()
  let wake: (() => void) | null = null
  let publishFailed = false
  // Whether each other clone in the registry had its heartbeat when last checked.
  const cloneAlive = new Map<string, boolean>()
  let beaten = false
  let heartbeatTimer: ReturnType<typeof setInterval> | null = null

  const lastId = async (connection: Redis, key: string): Promise<FanoutPosition> => {
    const last = (await connection.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][]
    return last[0]?.[0] ?? '0-0'
  }

  /** Re-issues the blocking read now, because the set of streams changed. */
  const interruptRead = (): void => {
    wake?.()
    if (readerClientId !== null && commands.status === 'ready') {
      commands.client('UNBLOCK', readerClientId).catch(() => {})
    }
  }

  /** After the reader lost Redis: every position is retaken (then every room catches up from storage). */
  const retakePositions = async (): Promise<void> => {
    controlPosition = await lastId(reader, controlKey)
    for (const subscription of subscriptions.values()) subscription.position = await lastId(reader, subscription.key)
  }

  /** One entry on a room's stream, trimmed to the retention window, its expiry pushed back. */
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
   * Appends `open` or `here` for a room open here. One that cannot be appended leaves the
   * room to be announced again (`open`) once Redis is back, which starts the exchange
   * anew: the other clones answer, and each side catches up from storage.
   */
  const mark = (subscription: Subscription, kind: Exclude<RoomMark, 'close'>, to?: string): void => {
    const retry = (): void => {
      unannounced.add(subscription.doc)
    }
    if (closed) return
    if (commands.status !== 'ready') return retry()
    append(subscription.key, to === undefined ? ['c', cloneId, 'k', kind] : ['c', cloneId, 'k', kind, 't', to]).catch(retry)
  }

  const announcePending = (): void => {
    for (const doc of [...unannounced]) {
      const subscription = subscriptions.get(doc)
      // Its position first (the reader's next round takes it), then its mark.
      if (subscription?.position === UNKNOWN) continue
      unannounced.delete(doc)
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

  const handleMark = (subscription: Subscription, clone: string, fields: Buffer[]): void => {
    const kind = fieldOf(fields, 'k')
    if (kind === 'open') {
      // Answered even by a clone that follows the opener already: it may be announcing
      // again after losing its reader, and only an answer tells it who follows.
      if (!follow(subscription, clone)) mark(subscription, 'here', clone)
    } else if (kind === 'here') {
      if (fieldOf(fields, 't') !== cloneId) return
      follow(subscription, clone)
      // It publishes for this clone from its `here` on; what it committed before is durable.
      events?.catchUp(subscription.doc)
    } else if (kind === 'close') {
      subscription.followers.delete(clone)
    }
  }

  const handleEntries = (streams: StreamEntries): void => {
    for (const [keyBytes, entries] of streams) {
      const key = keyBytes.toString()
      if (key === controlKey) {
        for (const [id, fields] of entries) {
          controlPosition = id.toString()
          const clone = fieldOf(fields, 'c')
          if (clone !== cloneId && fieldOf(fields, 'k') === 'resync') {
            log('info', `clone ${clone} could not publish for a while: catching up open rooms from storage`)
            events?.resync()
          }
        }
        continue
      }
      const subscription = byKey.get(key)
      if (!subscription) continue
      for (const [id, fields] of entries) {
        subscription.position = id.toString()
        const clone = fieldOf(fields, 'c')
        if (clone === undefined || clone === cloneId) continue
        if (isMarkEntry(fields)) {
          handleMark(subscription, clone, fields)
          continue
        }
        // A clone that publishes for the room has it open, marks or not: a clone of a
        // version before marks (a rolling upgrade) publishes every commit and never answers.
        follow(subscription, clone)
        const frames: Uint8Array[] = []
        for (let i = 0; i + 1 < fields.length; i += 2) {
          // Views, not copies: the room keeps a copy of only what it keeps (see retainable).
          if (isFrameField(fields[i] as Buffer)) frames.push(fields[i + 1] as Buffer)
        }
        subscription.receive(frames, clone)
      }
    }
  }

  const readLoop = async (): Promise<void> => {
    // Set when the reader lost Redis after having read: whatever was published meanwhile
    // may be trimmed or missed, so every position is retaken and every room catches up.
    let interrupted = false
    while (!closed) {
      if (subscriptions.size === 0 && controlPosition !== UNKNOWN && !interrupted) {
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, BLOCK_MS).unref()
        })
        wake = null
        continue
      }
      if (reader.status !== 'ready') {
        readerClientId = null
        await new Promise((resolve) => setTimeout(resolve, 100))
        continue
      }
      try {
        // Only after a room opened while Redis could not be asked: no scan of every room per read.
        const unknown = unknownPositions ? [...subscriptions.values()].filter((s) => s.position === UNKNOWN) : []
        if (interrupted) {
          await retakePositions()
          interrupted = false
          events?.resync()
          // Marks appended meanwhile were not read: a clone that opened a room then waits
          // for an answer from this one. Announcing every room again starts the exchange anew.
          for (const doc of subscriptions.keys()) unannounced.add(doc)
        } else if (controlPosition === UNKNOWN || unknown.length > 0) {
          controlPosition = await lastId(reader, controlKey)
          for (const subscription of unknown) subscription.position = await lastId(reader, subscription.key)
          // Rooms opened while Redis could not be asked: what they missed is in storage.
          unknownPositions = false
          if (unknown.length > 0) events?.resync()
        }
        if (unannounced.size > 0 && commands.status === 'ready') announcePending()
        readerClientId ??= Number(await reader.client('ID'))
        // Keys and positions in one argument list, built in one pass.
        const args: string[] = ['COUNT', String(READ_COUNT), 'BLOCK', String(BLOCK_MS), 'STREAMS', controlKey]
        for (const key of byKey.keys()) args.push(key)
        args.push(controlPosition)
        for (const subscription of byKey.values()) args.push(subscription.position)
        const result = (await reader.callBuffer('XREAD', ...args)) as StreamEntries | null
        if (result) handleEntries(result)
      } catch (error) {
        if (closed) return
        interrupted = true
        readerClientId = null
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
      interruptRead()
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

  return {
    cloneId,

    async position(doc) {
      if (commands.status !== 'ready') return UNKNOWN
      try {
        return await lastId(commands, roomKey(doc))
      } catch {
        return UNKNOWN
      }
    },

    subscribe(doc, from, receive) {
      const subscription: Subscription = { doc, key: roomKey(doc), position: from, receive, followers: new Set() }
      subscriptions.set(doc, subscription)
      byKey.set(subscription.key, subscription)
      unannounced.delete(doc)
      // After the position, so that every answer is read: for a position not known yet,
      // once the reader has taken it.
      if (from === UNKNOWN) {
        unknownPositions = true
        unannounced.add(doc)
      } else {
        mark(subscription, 'open')
      }
      interruptRead()
    },

    unsubscribe(doc) {
      const subscription = subscriptions.get(doc)
      if (!subscription) return
      subscriptions.delete(doc)
      byKey.delete(subscription.key)
      unannounced.delete(doc)
      // Lost with Redis, it costs the followers only publishing for a while (until this clone's heartbeat goes).
      if (!closed && commands.status === 'ready') append(subscription.key, ['c', cloneId, 'k', 'close']).catch(() => {})
      interruptRead()
    },

    publish(doc, frames, options) {
      if (frames.length === 0 || closed) return
      // Open here and no other clone has it open: nobody would read it. (A room not open
      // here may be open elsewhere: an update committed through the API, a deletion.)
      if (options?.toEveryClone !== true && subscriptions.get(doc)?.followers.size === 0) return
      if (commands.status !== 'ready') {
        publishFailed = true
        return
      }
      const fields: (string | Buffer)[] = ['c', cloneId]
      for (const frame of frames) fields.push('f', Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength))
      append(roomKey(doc), fields).catch(publishFailedWith)
    },

    start(handlers) {
      events = handlers
      reading = readLoop()
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
      while (commands.status !== 'ready' || reader.status !== 'ready') {
        if (Date.now() >= until || closed) return false
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      return true
    },

    async close() {
      closed = true
      if (heartbeatTimer !== null) clearInterval(heartbeatTimer)
      interruptRead()
      // Other clones drop this one's presence at once instead of after the heartbeat's TTL.
      if (commands.status === 'ready') await commands.del(heartbeatKey(cloneId)).catch(() => {})
      reader.disconnect()
      await reading
      await commands.quit().catch(() => commands.disconnect())
    }
  }
}

/** The field name `f`, compared without making a string of every field name. */
function isFrameField(name: Buffer): boolean {
  return name.length === 1 && name[0] === 0x66
}

/** A mark (`c`, clone, `k`, kind…) rather than frames (`c`, clone, `f`, frame…). */
function isMarkEntry(fields: readonly Buffer[]): boolean {
  const name = fields[2]
  return name !== undefined && name.length === 1 && name[0] === 0x6b
}

function fieldOf(fields: readonly Buffer[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if ((fields[i] as Buffer).toString() === name) return (fields[i + 1] as Buffer).toString()
  return undefined
}
