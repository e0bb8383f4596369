import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { CommitObservation } from '../commit/commit-queue.js'
import { createTrafficCounters, type MessageType, type TrafficCounters } from './traffic-counters.js'

/** What the registry reads from the server at scrape time, besides the traffic counters. */
export interface MetricsReadings {
  readonly connections: number
  readonly rooms: number
  readonly roomsLoaded: number
  readonly unsavedUpdates: number
  readonly unsentBytes: number
  /** Failed storage writes (each retry of a failing batch counts). */
  readonly storageErrors: number
  readonly compactionsDone: number
  readonly compactionsFailed: number
  /** Rendered reads answered from the render cache (or sharing a render in flight), and renders run. */
  readonly renderCacheHits: number
  readonly rendersRun: number
}

/** A server's metrics as its embedder and its other parts see them. */
export interface QuireMetrics {
  /**
   * The server's own registry: register more metrics on it with
   * `registers: [metrics.registry]` (prom-client), never on the global default one.
   */
  readonly registry: Registry
  /** The exposition text (Prometheus text format), and its content type. */
  render(): Promise<{ readonly contentType: string; readonly body: string }>
}

/**
 * One server's Prometheus metrics, on a registry of its own (never prom-client's global
 * one: several servers in one process, as in tests, must not share or collide). Other
 * parts of the server (webhooks, the document API) register their own metrics on
 * `registry`: `new Counter({ name, help, registers: [metrics.registry] })`.
 *
 * Quire's own metrics cost the hot path a property increment (`counters`) and are turned
 * into samples only when scraped (`collect`). Histograms are observed once per group
 * commit, not per update. The process's default metrics (CPU, memory, event loop lag,
 * GC) start with the first scrape: a server nobody scrapes (a test, an embedder that
 * never asks) runs none of their observers.
 */
export interface ServerMetrics extends QuireMetrics {
  readonly counters: TrafficCounters
  /** A group commit became durable (see `CommitQueueOptions.observe`). */
  observeCommit(observation: CommitObservation): void
}

const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const MESSAGE_TYPES = Object.keys(createTrafficCounters().messagesReceived) as MessageType[]

export function createServerMetrics(read: () => MetricsReadings): ServerMetrics {
  const registry = new Registry()
  const counters = createTrafficCounters()
  const registers = [registry]
  let defaultsStarted = false

  /** A counter whose value is a plain number kept elsewhere (read at scrape time). */
  const counterOf = (name: string, help: string, value: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(value())
      }
    })
  }
  const gaugeOf = (name: string, help: string, value: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value())
      }
    })
  }

  gaugeOf('quire_connections', 'Open WebSocket connections.', () => read().connections)
  gaugeOf('quire_rooms', 'Rooms (documents) open in memory.', () => read().rooms)
  counterOf('quire_rooms_loaded_total', 'Rooms loaded from storage (a room evicted and opened again counts again).', () => read().roomsLoaded)
  gaugeOf('quire_unsaved_updates', 'Updates accepted but not yet durable.', () => read().unsavedUpdates)
  gaugeOf('quire_unsent_bytes', 'Bytes waiting to be sent to peers, all peers together.', () => read().unsentBytes)
  counterOf('quire_storage_errors_total', 'Failed storage writes (each retry counts).', () => read().storageErrors)
  new Counter({
    name: 'quire_compactions_total',
    help: 'Compactions of a stored log into one snapshot, by result.',
    labelNames: ['result'] as const,
    registers,
    collect() {
      const { compactionsDone, compactionsFailed } = read()
      this.reset()
      this.inc({ result: 'done' }, compactionsDone)
      this.inc({ result: 'failed' }, compactionsFailed)
    }
  })
  new Counter({
    name: 'quire_renders_total',
    help: 'Rendered reads (HTML, Markdown, text, ProseMirror JSON), by whether the render cache answered.',
    labelNames: ['cache'] as const,
    registers,
    collect() {
      const { renderCacheHits, rendersRun } = read()
      this.reset()
      this.inc({ cache: 'hit' }, renderCacheHits)
      this.inc({ cache: 'miss' }, rendersRun)
    }
  })
  new Counter({
    name: 'quire_messages_received_total',
    help: 'Messages received from clients, by type.',
    labelNames: ['type'] as const,
    registers,
    collect() {
      this.reset()
      for (const type of MESSAGE_TYPES) this.inc({ type }, counters.messagesReceived[type])
    }
  })
  counterOf('quire_received_bytes_total', 'Bytes of binary frames received from clients.', () => counters.bytesIn)
  counterOf('quire_sent_bytes_total', 'Bytes written to client sockets (WebSocket framing included).', () => counters.bytesOut)
  counterOf('quire_deliveries_total', 'Frames sent to peers (one update relayed to ten peers is ten).', () => counters.deliveries)
  counterOf('quire_socket_writes_total', 'Socket writes those frames took (the frames of a turn for one peer go in one write).', () => counters.socketWrites)
  counterOf('quire_updates_relayed_total', 'Updates accepted by rooms and relayed, from any source.', () => counters.updatesRelayed)
  new Counter({
    name: 'quire_closes_total',
    help: 'Connections the server closed, by close code (1006: dropped without a close frame).',
    labelNames: ['code'] as const,
    registers,
    collect() {
      this.reset()
      for (const [code, count] of counters.closes) this.inc({ code: String(code) }, count)
    }
  })
  const batchUpdates = new Histogram({
    name: 'quire_commit_batch_updates',
    help: 'Updates per group commit.',
    buckets: BATCH_SIZE_BUCKETS,
    registers
  })
  const batchSeconds = new Histogram({
    name: 'quire_commit_batch_duration_seconds',
    help: 'Time a group commit took in storage (the write and its fsync).',
    buckets: SECONDS_BUCKETS,
    registers
  })
  const receiveToAck = new Histogram({
    name: 'quire_receive_to_ack_seconds',
    help: 'Per group commit, the time from the arrival of its oldest update to its durability: the longest any writer of the batch waited for its acknowledgement.',
    buckets: SECONDS_BUCKETS,
    registers
  })

  return {
    registry,
    counters,
    observeCommit({ updates, seconds, oldestWaitSeconds }) {
      batchUpdates.observe(updates)
      batchSeconds.observe(seconds)
      receiveToAck.observe(oldestWaitSeconds)
    },
    async render() {
      if (!defaultsStarted) {
        defaultsStarted = true
        collectDefaultMetrics({ register: registry })
      }
      return { contentType: registry.contentType, body: await registry.metrics() }
    }
  }
}
