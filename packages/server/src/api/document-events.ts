/**
 * What the server tells an embedder about documents coming and going (the webhooks
 * outbox listens here). `created` is called once a document the store did not hold
 * exists: an explicit create (`PUT`) or the first update written through the API;
 * `deleted` once a delete is durable. Calls are notifications after the fact: what they
 * do cannot refuse or delay the request, and a throw is logged, not answered.
 *
 * Documents first written over a WebSocket are not reported yet (see the README).
 */
export interface DocumentEvents {
  created(doc: string): void
  deleted(doc: string): void
}
