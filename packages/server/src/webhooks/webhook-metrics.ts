import { Counter, Gauge, type Registry } from 'prom-client'
import type { Webhooks } from './create-webhooks.js'

/**
 * The webhooks' metrics on a server's registry, read at scrape time: attempts by result
 * since the process started, and what the outbox holds (the queue depth is read from the
 * store, so it is the same on every clone that shares it).
 */
export function registerWebhookMetrics(registry: Registry, webhooks: () => Webhooks | null): void {
  const registers = [registry]
  new Counter({
    name: 'quire_webhook_deliveries_total',
    help: 'Webhook delivery attempts by this process, by result: delivered (2xx), retried (will be tried again), failed (gave up)',
    labelNames: ['result'],
    registers,
    collect() {
      const counters = webhooks()?.counters
      if (counters === undefined) return
      this.reset()
      this.inc({ result: 'delivered' }, counters.delivered)
      this.inc({ result: 'retried' }, counters.retried)
      this.inc({ result: 'failed' }, counters.failed)
    }
  })
  new Gauge({
    name: 'quire_webhook_queue_depth',
    help: 'Webhook deliveries in the outbox: pending (to be sent or retried) and failed (given up, until re-queued)',
    labelNames: ['status'],
    registers,
    async collect() {
      const current = webhooks()
      if (current === null) return
      const depth = await current.queueDepth()
      this.set({ status: 'pending' }, depth.pending)
      this.set({ status: 'failed' }, depth.failed)
    }
  })
}
