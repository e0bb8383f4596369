// The protocol floor of the reconnect storm: the least a persistent y-websocket server
// built on `ws` must do for a client that reconnects, and nothing more. Not a server
// anyone should run: it trusts every byte, answers every sync step 1 with the whole
// document instead of a diff, never compacts, and stores without fsync.
//
// Per room it keeps the document as one encoded update, read from one file the first
// time a client of the room arrives and written back (debounced) when an update
// changes it. Per client it does what no correct server can skip:
// - answer the client's sync step 1 with a sync step 2 (here the whole stored state);
// - send its own sync step 1, so that the client sends what the server lacks, with the
//   presence of the room's other clients in the same socket write;
// - merge a non-empty update into the room, relay it to the room's other clients;
// - relay each presence update to the room's other clients, one write each, as it comes
//   (as @y/websocket-server and Quire do; a server that held presence back to merge the
//   updates of several joining clients could write less, at the cost of stale cursors);
// - tell the others when a client leaves.
// The bench's storm runs it beside Quire and the reference servers: what it reaches is
// what a Node server on `ws` can reach on this machine with this generator.
import { mkdirSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebSocketServer } from 'ws'
import * as Y from 'yjs'

const MESSAGE_SYNC = 0
const MESSAGE_AWARENESS = 1
const SYNC_STEP_1 = 0
const SYNC_STEP_2 = 1
const SYNC_UPDATE = 2
const STORE_AFTER_MS = 100
const EMPTY_UPDATE = new Uint8Array([0, 0])

const dataDir = process.argv[2]
if (!dataDir) throw new Error('usage: storm-floor.mjs <data directory>')
mkdirSync(dataDir, { recursive: true })

/** @type {Map<string, Room>} */
const rooms = new Map()

class Room {
  constructor(name) {
    this.file = join(dataDir, `${encodeURIComponent(name)}.update`)
    /** @type {Map<import('ws').WebSocket, Presence>} */
    this.peers = new Map()
    this.state = EMPTY_UPDATE
    this.stateVectorMessage = syncMessage(SYNC_STEP_1, Y.encodeStateVectorFromUpdate(EMPTY_UPDATE))
    this.storeTimer = null
    this.loaded = readFile(this.file).then(
      (bytes) => this.setState(new Uint8Array(bytes)),
      (error) => {
        if (error.code !== 'ENOENT') throw error
      }
    )
  }

  setState(state) {
    this.state = state
    this.stateVectorMessage = syncMessage(SYNC_STEP_1, Y.encodeStateVectorFromUpdate(state))
  }

  apply(update) {
    this.setState(Y.mergeUpdates([this.state, update]))
    this.storeTimer ??= setTimeout(() => {
      this.storeTimer = null
      void writeFile(this.file, this.state)
    }, STORE_AFTER_MS)
  }

  broadcast(from, message) {
    for (const peer of this.peers.keys()) if (peer !== from && peer.readyState === 1) peer.send(message)
  }
}

/** What a client last said about its presence: the awareness update's entries, and its client ids and clocks. */
class Presence {
  constructor() {
    /** @type {Map<number, {clock: number, entry: Uint8Array}>} */
    this.entries = new Map()
  }
}

function syncMessage(type, payload) {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  encoding.writeVarUint(encoder, type)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}

/** One awareness message holding the given entries (each already encoded: client id, clock, state). */
function awarenessMessage(entries) {
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, entries.length)
  for (const entry of entries) encoding.writeUint8Array(inner, entry)
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(encoder, encoding.toUint8Array(inner))
  return encoding.toUint8Array(encoder)
}

/** Keeps each entry of an awareness update as the client's newest, by client id. */
function rememberPresence(presence, update) {
  const decoder = decoding.createDecoder(update)
  const count = decoding.readVarUint(decoder)
  for (let index = 0; index < count; index++) {
    const start = decoder.pos
    const clientId = decoding.readVarUint(decoder)
    const clock = decoding.readVarUint(decoder)
    const state = decoding.readVarString(decoder)
    if (state === 'null') presence.entries.delete(clientId)
    else presence.entries.set(clientId, { clock, entry: update.subarray(start, decoder.pos) })
  }
}

function removalEntries(presence) {
  return [...presence.entries].map(([clientId, { clock }]) => {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, clientId)
    encoding.writeVarUint(encoder, clock + 1)
    encoding.writeVarString(encoder, 'null')
    return encoding.toUint8Array(encoder)
  })
}

function handle(room, socket, data) {
  const message = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  const decoder = decoding.createDecoder(message)
  const type = decoding.readVarUint(decoder)
  if (type === MESSAGE_SYNC) {
    const subtype = decoding.readVarUint(decoder)
    const payload = decoding.readVarUint8Array(decoder)
    if (subtype === SYNC_STEP_1) {
      socket.send(syncMessage(SYNC_STEP_2, room.state))
    } else if (subtype === SYNC_STEP_2 || subtype === SYNC_UPDATE) {
      if (payload.byteLength === 2 && payload[0] === 0 && payload[1] === 0) return
      room.apply(payload)
      room.broadcast(socket, subtype === SYNC_UPDATE ? message : syncMessage(SYNC_UPDATE, payload))
    }
  } else if (type === MESSAGE_AWARENESS) {
    const presence = room.peers.get(socket)
    if (presence) rememberPresence(presence, decoding.readVarUint8Array(decoder))
    room.broadcast(socket, message)
  }
}

function greet(room, socket) {
  const others = [...room.peers.values()].flatMap((presence) => [...presence.entries.values()].map(({ entry }) => entry))
  // One socket write for both, as a server that cares about a storm does.
  socket._socket.cork()
  socket.send(room.stateVectorMessage)
  if (others.length > 0) socket.send(awarenessMessage(others))
  socket._socket.uncork()
}

const http = createServer((_request, response) => response.end('ok'))
const wss = new WebSocketServer({ server: http })
wss.on('connection', (socket, request) => {
  const name = decodeURIComponent((request.url ?? '/').split('?')[0].slice(1))
  let room = rooms.get(name)
  if (!room) rooms.set(name, (room = new Room(name)))
  /** @type {Buffer[] | null} Messages that arrive before the room is read from disk. */
  let early = []
  socket.on('message', (data) => {
    if (early) early.push(data)
    else handle(room, socket, data)
  })
  socket.on('close', () => {
    const presence = room.peers.get(socket)
    room.peers.delete(socket)
    if (presence && presence.entries.size > 0) room.broadcast(socket, awarenessMessage(removalEntries(presence)))
  })
  void room.loaded.then(() => {
    if (socket.readyState !== 1) return
    room.peers.set(socket, new Presence())
    greet(room, socket)
    const queued = early
    early = null
    for (const data of queued) handle(room, socket, data)
  })
})
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', 4096, () => console.log(`listening on ${http.address().port}`))
process.on('SIGTERM', () => process.exit(0))
