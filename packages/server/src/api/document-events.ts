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

/**
 * Where the webhooks record the API's creations and deletions (see
 * webhooks/create-webhooks.ts): each resolves once the event is durable in the outbox.
 * The API records a deletion before it deletes, so a crash in between leaves the event
 * (a retried DELETE then announces it again) rather than a deletion nobody hears of.
 */
export interface RecordedDocumentEvents {
  created(doc: string): Promise<void>
  deleted(doc: string): Promise<void>
}
