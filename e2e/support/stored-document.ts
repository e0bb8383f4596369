/**
 * What PostgreSQL holds of a demo document, read the way a clone loads it
 * (@quire/postgres's Storage), as the text of its top-level blocks: what the editor shows,
 * without formatting. The demo's Tiptap editor keeps the document in the XML fragment
 * "default" (the Collaboration extension's field).
 */
import * as Y from 'yjs'
import { createPostgresStorage } from '@quire/postgres'
import { docFromUpdates } from '@quire/testkit'

export async function readStoredBlockTexts(postgresUrl: string, room: string): Promise<string[]> {
  const storage = await createPostgresStorage({ connectionString: postgresUrl })
  try {
    const doc = docFromUpdates((await storage.load(room)).updates)
    return doc.getXmlFragment('default').toArray().map(textOf)
  } finally {
    await storage.close()
  }
}

function textOf(node: Y.XmlElement | Y.XmlText | Y.XmlHook): string {
  if (node instanceof Y.XmlText) {
    return (node.toDelta() as { insert: unknown }[]).map((op) => (typeof op.insert === 'string' ? op.insert : '')).join('')
  }
  if (node instanceof Y.XmlElement) return node.toArray().map(textOf).join('')
  return ''
}
