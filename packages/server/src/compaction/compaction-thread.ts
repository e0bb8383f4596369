import { Worker } from 'node:worker_threads'
import { createOnDemandWorker } from '../on-demand-worker.js'
import { encodeUpdatePack } from '../storage/update-pack.js'
import type { VersionDiff } from './version-diff.js'

export type { VersionDiff }

interface CompactionRequest {
  /**
   * 'compact': `pack` is an update pack; 'json': `pack` is one update, to render as JSON.
   * The version history's work (see compaction-worker.js): 'version-diff', `pack` is the
   * current document then the previous version's chain; 'version-content', the chain;
   * 'restore', the current document then the version's chain.
   */
  readonly kind: 'compact' | 'json' | 'version-diff' | 'version-content' | 'restore'
  /** The updates as one update pack (storage/update-pack.ts), its buffer transferred. */
  readonly pack: Uint8Array
  /** 'version-diff': store the whole state, not a diff. */
  readonly checkpoint?: boolean
}

type CompactionResponse = { readonly snapshot: Uint8Array } | { readonly json: string } | { readonly diff: VersionDiff }

/**
 * A worker thread that compacts one log at a time, started on demand and stopped after
 * IDLE_STOP_MS without work: a worker is a whole V8 isolate whose heap grew to the
 * largest document it loaded, memory an idle server should give back. Not sooner: a
 * worker's start costs 0.2-0.4 s of CPU (Node's bootstrap and compiling yjs; measured on
 * an AMD EPYC VM, 2026-11-30), and with a 2 s timeout a server whose busy rooms compact
 * every few seconds started one for nearly every compaction.
 *
 * A log goes to the worker as one update pack whose buffer is transferred, not as an
 * array of thousands of small arrays to clone one by one.
 */
export interface CompactionThread {
  compact(updates: Uint8Array[]): Promise<Uint8Array>
  /**
   * `Y.Doc#toJSON()` of the document `update` holds, as a JSON string (see
   * document-json.js), for `GET /api/v1/documents/<room>?format=json`: building a Y.Doc
   * is the work the server keeps off its event loop, so the API borrows this thread.
   */
  documentJson(update: Uint8Array): Promise<string>
  /**
   * A new version of the document `current` holds, after the version whose chain (its
   * checkpoint and the diffs after it, oldest first) is `previousChain`: the update to
   * store (a diff, or the whole state when `checkpoint`), whether anything changed, and
   * the characters inserted and deleted (see version-diff.js).
   */
  versionDiff(current: Uint8Array, previousChain: readonly Uint8Array[], checkpoint: boolean): Promise<VersionDiff>
  /** The document at a version, from its chain, as one update. */
  versionContent(chain: readonly Uint8Array[]): Promise<Uint8Array>
  /** The forward update that turns `current` into the content of the version whose chain is `chain` (see restore-update.js). */
  restoreUpdate(current: Uint8Array, chain: readonly Uint8Array[]): Promise<Uint8Array>
  close(): Promise<void>
}

const IDLE_STOP_MS = 10_000

export interface CompactionThreadOptions {
  /** Called once each worker is running (see `ServerOptions.onWorkerStarted`). */
  readonly onStarted?: (() => void) | undefined
}

export function createCompactionThread(options: CompactionThreadOptions = {}): CompactionThread {
  const worker = createOnDemandWorker<CompactionResponse>({
    name: 'compaction worker',
    // Plain JS beside this module, in src and in dist alike.
    create: () => new Worker(new URL('./compaction-worker.js', import.meta.url)),
    idleStopMs: IDLE_STOP_MS,
    onStarted: options.onStarted
  })

  const run = (kind: CompactionRequest['kind'], pack: Uint8Array, checkpoint = false): Promise<CompactionResponse> => {
    const request: CompactionRequest = { kind, pack, checkpoint }
    return worker.request(request, [pack.buffer as ArrayBuffer])
  }

  return {
    async compact(updates) {
      const response = await run('compact', encodeUpdatePack(updates))
      if (!('snapshot' in response)) throw new Error('compaction failed: the worker answered no snapshot')
      return response.snapshot
    },
    async documentJson(update) {
      // A copy: the buffer is transferred, and the caller's bytes may be the room's state.
      const response = await run('json', update.slice())
      if (!('json' in response)) throw new Error('the worker answered no JSON')
      return response.json
    },
    async versionDiff(current, previousChain, checkpoint) {
      const response = await run('version-diff', encodeUpdatePack([current, ...previousChain]), checkpoint)
      if (!('diff' in response)) throw new Error('the worker answered no version diff')
      return response.diff
    },
    async versionContent(chain) {
      const response = await run('version-content', encodeUpdatePack(chain))
      if (!('snapshot' in response)) throw new Error('the worker answered no version content')
      return response.snapshot
    },
    async restoreUpdate(current, chain) {
      const response = await run('restore', encodeUpdatePack([current, ...chain]))
      if (!('snapshot' in response)) throw new Error('the worker answered no restore update')
      return response.snapshot
    },
    close() {
      return worker.close()
    }
  }
}

