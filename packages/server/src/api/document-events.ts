import type { Log } from '../log.js'

/**
 * What the server tells an embedder about documents coming and going (the webhooks
 * outbox listens here). `created` is called once a document the store did not hold
 * exists: an explicit create (`PUT`), or the first write of a room opened while the store
 * did not hold it, over a WebSocket or the API alike, once that write is durable.
 * `deleted` once a delete is durable. Calls are notifications after the fact: what they
 * do cannot refuse or delay anything, and a throw is logged.
 *
 * With several clones, each reports what happened through it: a document first written
 * on two clones at once may be reported by both.
 */
export interface DocumentEvents {
  created(doc: string): void
  deleted(doc: string): void
}

export function notifyDocumentEvent(events: DocumentEvents | undefined, event: keyof DocumentEvents, doc: string, log: Log): void {
  if (events === undefined) return
  try {
    events[event](doc)
  } catch (error) {
    log('error', `documentEvents.${event}(${JSON.stringify(doc)}) threw: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** Where the webhooks hear of documents created and deleted through the API (see webhooks/create-webhooks.ts). */
export interface AsyncDocumentEvents {
  created(doc: string): Promise<void>
  deleted(doc: string): Promise<void>
}

/**
 * The events the document API reports, told to the embedder's `documentEvents` and to the
 * webhooks (which exist once storage is open). A webhook outbox write that fails is logged:
 * the API has answered by then.
 */
export function joinDocumentEvents(embedder: DocumentEvents | undefined, webhooks: () => AsyncDocumentEvents | null, log: Log): DocumentEvents {
  const tell = (event: keyof DocumentEvents, doc: string): void => {
    notifyDocumentEvent(embedder, event, doc, log)
    webhooks()?.[event](doc).catch((error: unknown) => {
      log('error', `recording the webhook event document.${event} of ${JSON.stringify(doc)} failed: ${error instanceof Error ? error.message : String(error)}`, { room: doc })
    })
  }
  return { created: (doc) => tell('created', doc), deleted: (doc) => tell('deleted', doc) }
}
