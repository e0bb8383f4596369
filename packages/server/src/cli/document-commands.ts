import { readFile, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import * as Y from 'yjs'
import { findUpdateProblem } from '@quire/protocol'
import { compactUpdates } from '../compaction/compact-updates.js'
import { SERVER_DEFAULTS } from '../server-options.js'
import { createLevelStorage } from '../storage/level-storage.js'
import type { Storage, StoredLog } from '../storage/storage.js'
import { consoleLog } from '../log.js'
import { openPostgresStorage, postgresUrlFrom } from './storage-choice.js'

/**
 * Offline document commands on a data directory: inspect, export, import, compact.
 * They open the LevelDB store directly, so the server must not be running on it
 * (LevelDB's lock says so if it is). On PostgreSQL (--postgres, or QUIRE_POSTGRES_URL)
 * they may run beside running clones: an import is an append like any other, and a
 * compaction swaps the log conditionally (see Storage.replace). Clones with the document
 * open see an import when the room is next loaded. Progress goes to stderr, results to stdout.
 */
export const DOCUMENT_COMMANDS_USAGE = `  inspect   List the documents in a data directory, or describe one
            quire inspect --data <dir> [<room>]
  export    Write one document as a single Yjs update (binary)
            quire export --data <dir> <room> --out <file>
  import    Append a Yjs update file (binary, e.g. from export) to a document
            quire import --data <dir> <room> <file>
  compact   Compact stored logs (one document, or all with --all)
            quire compact --data <dir> (<room> | --all)
            Each takes --postgres <url> [--postgres-schema <name>] instead of
            --data for documents in PostgreSQL (or QUIRE_POSTGRES_URL)
`


type Progress = (message: string) => void

const stderrProgress: Progress = (message) => process.stderr.write(`${message}\n`)

export async function runDocumentCommand(command: string, args: readonly string[], progress: Progress = stderrProgress): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      data: { type: 'string', default: SERVER_DEFAULTS.dataDir },
      postgres: { type: 'string' },
      'postgres-schema': { type: 'string' },
      out: { type: 'string' },
      all: { type: 'boolean', default: false }
    },
    allowPositionals: true,
    strict: true
  })
  const postgresUrl = postgresUrlFrom(values.postgres, process.env)
  const storage =
    (await openPostgresStorage({ postgresUrl, postgresSchema: values['postgres-schema'] }, consoleLog)) ?? (await createLevelStorage(values.data))
  try {
    switch (command) {
      case 'inspect':
        return await inspect(storage, positionals[0])
      case 'export':
        return await exportDocument(storage, requireRoom(positionals[0], 'export'), values.out, progress)
      case 'import':
        return await importDocument(storage, requireRoom(positionals[0], 'import'), positionals[1], progress)
      case 'compact':
        return await compact(storage, values.all ? null : requireRoom(positionals[0], 'compact (or pass --all)'), progress)
      default:
        throw new Error(`unknown document command "${command}"`)
    }
  } finally {
    await storage.close()
  }
}

function requireRoom(room: string | undefined, command: string): string {
  if (room === undefined) throw new Error(`quire ${command}: name the room, e.g. quire ${command.split(' ')[0]} --data ./data my-room`)
  return room
}

/** Reads a document's log, reporting every 10,000 updates so a huge log shows life. */
async function loadWithProgress(storage: Storage, room: string, progress: Progress): Promise<StoredLog & { bytes: number }> {
  progress(`reading "${room}"…`)
  const log = await storage.load(room)
  let bytes = 0
  for (const [i, update] of log.updates.entries()) {
    bytes += update.byteLength
    if ((i + 1) % 10_000 === 0) progress(`  ${i + 1} of ${log.updates.length} updates`)
  }
  progress(`  ${log.updates.length} updates, ${formatBytes(bytes)}`)
  return { ...log, bytes }
}

async function inspect(storage: Storage, room: string | undefined): Promise<number> {
  if (room === undefined) {
    const names = await storage.list()
    process.stdout.write(`${names.length} document${names.length === 1 ? '' : 's'}\n`)
    for (const name of names.sort()) {
      const { updates } = await storage.load(name)
      const bytes = updates.reduce((n, u) => n + u.byteLength, 0)
      process.stdout.write(`${JSON.stringify(name)}\t${updates.length} updates\t${formatBytes(bytes)}\n`)
    }
    return 0
  }
  const { updates } = await storage.load(room)
  if (updates.length === 0) {
    process.stderr.write(`no document named ${JSON.stringify(room)} (quire inspect --data <dir> lists them)\n`)
    return 1
  }
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, update)
  const state = Y.encodeStateAsUpdate(doc)
  const clients = Y.decodeStateVector(Y.encodeStateVector(doc))
  process.stdout.write(
    `${JSON.stringify(room)}\n` +
      `  stored log:     ${updates.length} updates, ${formatBytes(updates.reduce((n, u) => n + u.byteLength, 0))}\n` +
      `  encoded state:  ${formatBytes(state.byteLength)}\n` +
      `  client ids:     ${clients.size}\n` +
      `  root types:     ${[...doc.share.keys()].map((k) => JSON.stringify(k)).join(', ') || '(none)'}\n`
  )
  doc.destroy()
  return 0
}

async function exportDocument(storage: Storage, room: string, out: string | undefined, progress: Progress): Promise<number> {
  if (out === undefined) throw new Error('quire export: say where to write it with --out <file>')
  const { updates } = await loadWithProgress(storage, room, progress)
  if (updates.length === 0) {
    process.stderr.write(`no document named ${JSON.stringify(room)}; nothing exported\n`)
    return 1
  }
  progress('merging into one update (garbage-collected)…')
  const snapshot = compactUpdates(updates)
  await writeFile(out, snapshot)
  progress(`wrote ${formatBytes(snapshot.byteLength)} to ${out}`)
  return 0
}

async function importDocument(storage: Storage, room: string, file: string | undefined, progress: Progress): Promise<number> {
  if (file === undefined) throw new Error('quire import: name the update file, e.g. quire import --data ./data my-room doc.bin')
  const bytes = new Uint8Array(await readFile(file))
  progress(`validating ${formatBytes(bytes.byteLength)} from ${file}…`)
  const problem = findUpdateProblem(bytes)
  if (problem) {
    process.stderr.write(`${file}: ${problem}; nothing was imported\n`)
    return 1
  }
  await storage.append([{ doc: room, updates: [bytes] }])
  progress(`imported into ${JSON.stringify(room)}; it merges with what the document already holds`)
  return 0
}

async function compact(storage: Storage, room: string | null, progress: Progress): Promise<number> {
  const rooms = room === null ? await storage.list() : [room]
  for (const [i, name] of rooms.entries()) {
    if (rooms.length > 1) progress(`[${i + 1}/${rooms.length}]`)
    const { updates, lastSeq, bytes, startsWithSnapshot } = await loadWithProgress(storage, name, progress)
    // One update as it arrived (an import, say) may be a merge of many keystrokes: a
    // snapshot of it can be far smaller and faster to apply.
    if (updates.length === 0 || (updates.length === 1 && startsWithSnapshot)) {
      progress('  already compact')
      continue
    }
    const snapshot = compactUpdates(updates)
    await storage.replace(name, snapshot, lastSeq)
    progress(`  compacted to 1 snapshot of ${formatBytes(snapshot.byteLength)} (was ${formatBytes(bytes)})`)
  }
  return 0
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}
