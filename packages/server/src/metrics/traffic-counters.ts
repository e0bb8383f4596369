import type { DecodedMessage } from '@quire/protocol'

export type MessageType = DecodedMessage['type']

/**
 * What the hot path counts: plain numbers, bumped where the events happen and read by
 * the metrics registry only when it is scraped (server-metrics.ts). A property increment
 * costs next to nothing; a prom-client `inc()` per message (a label lookup, a hash of the
 * label values) would cost more than the socket write it counts. Null where metrics are
 * off (`metrics: false`): then nothing is counted at all.
 */
export interface TrafficCounters {
  /** Decoded messages received from clients, by type. */
  readonly messagesReceived: Record<MessageType, number>
  /** Bytes of binary frames received from clients (payloads, before decoding). */
  bytesIn: number
  /** Bytes written to client sockets (WebSocket frames, headers included). */
  bytesOut: number
  /** Frames sent to peers (a relayed update to ten peers is ten deliveries). */
  deliveries: number
  /** Socket writes those frames took (several frames of a turn go in one write). */
  socketWrites: number
  /** Updates accepted by rooms and queued for relay, from any source. */
  updatesRelayed: number
  /** Closes the server sent, by close code (1006 for a socket it dropped without one). */
  readonly closes: Map<number, number>
}

export function createTrafficCounters(): TrafficCounters {
  return {
    messagesReceived: {
      'sync-step-1': 0,
      'sync-step-2': 0,
      'sync-update': 0,
      awareness: 0,
      'query-awareness': 0,
      'auth-permission-denied': 0,
      'quire-hello': 0,
      'quire-saved': 0,
      'quire-deleted': 0
    },
    bytesIn: 0,
    bytesOut: 0,
    deliveries: 0,
    socketWrites: 0,
    updatesRelayed: 0,
    closes: new Map()
  }
}

/** A close the server sent (cold path: once per socket at most). */
export function countClose(counters: TrafficCounters | null, code: number): void {
  if (counters === null) return
  counters.closes.set(code, (counters.closes.get(code) ?? 0) + 1)
}
