import * as Y from 'yjs'
import { createLevelStorage } from '@quire/server'
import { docFromUpdates } from '@quire/testkit'

/** The document exactly as the server's LevelDB holds it (the server must not be running). */
export async function readStoredDocument(dataDir: string, room: string): Promise<Y.Doc> {
  const storage = await createLevelStorage(dataDir)
  try {
    const log = await storage.load(room)
    return docFromUpdates(log.updates)
  } finally {
    await storage.close()
  }
}

/** Does `doc` hold every struct and every deletion of `update`? */
export function holdsUpdate(doc: Y.Doc, update: Uint8Array): boolean {
  return Y.snapshotContainsUpdate(Y.snapshot(doc), update)
}

/**
 * Collects the updates a session's own user made (not those it received), so a test can
 * say exactly what a `saved: true` promised.
 */
export function recordLocalUpdates(doc: Y.Doc, isRemote: (origin: unknown) => boolean): () => Uint8Array {
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (!isRemote(origin)) updates.push(update)
  })
  return () => (updates.length === 0 ? Y.encodeStateAsUpdate(new Y.Doc()) : Y.mergeUpdates(updates))
}
