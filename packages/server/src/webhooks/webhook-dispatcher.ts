import { randomUUID } from 'node:crypto'
import type { Log } from '../log.js'
import type { RetrySchedule } from './retry-schedule.js'
import { sendWebhook, type SendResult } from './send-webhook.js'
import type { Delivery, WebhookOutbox } from './webhook-outbox.js'

/**
 * Sends what the outbox holds, off the relay's path: at most `maxInFlight` attempts at
 * once, each bounded by `attemptTimeoutMs`, so a slow or dead receiver costs a few idle
 * sockets and never delays a commit or a relay. Deliveries are claimed with a lease
 * (see WebhookOutbox.claim): with several clones on one PostgreSQL schema each delivery
 * goes to one of them, and one that dies mid-attempt loses its lease to another after
 * `leaseMs`. Between claims it sleeps until the next delivery is due, and on a shared
 * outbox `pollMs` at most (a clone sees others' new deliveries that way); an enqueue or
 * a requeue here wakes it at once.
 */
export interface WebhookDispatcher {
  /** Something may be due now. */
  wake(): void
  /** Stops claiming, cuts attempts in flight short and gives their deliveries back. */
  stop(): Promise<void>
}

/** Attempts by outcome since the process started: for metrics. */
export interface WebhookCounters {
  delivered: number
  /** Failed attempts that will be tried again. */
  retried: number
  /** Failed last attempts: the delivery is failed. */
  failed: number
}

export interface WebhookDispatcherOptions {
  readonly outbox: WebhookOutbox
  readonly secret: string
  readonly schedule: RetrySchedule
  readonly attemptTimeoutMs: number
  readonly maxInFlight: number
  readonly pollMs: number
  readonly counters: WebhookCounters
  readonly log: Log
  /** One attempt; `sendWebhook` unless a test replaces it. */
  readonly send?: typeof sendWebhook
}

export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { outbox, schedule, counters, log } = options
  const send = options.send ?? sendWebhook
  const owner = randomUUID()
  // Longer than an attempt can last, so no other clone takes a delivery over while it is tried.
  const leaseMs = options.attemptTimeoutMs * 2 + 30_000
  const stopping = new AbortController()
  const inFlight = new Set<Promise<void>>()
  let timer: ReturnType<typeof setTimeout> | null = null
  let running: Promise<void> | null = null
  let again = false

  const arm = (delayMs: number): void => {
    if (stopping.signal.aborted) return
    if (timer !== null) clearTimeout(timer)
    timer = setTimeout(wake, delayMs)
    timer.unref()
  }

  const settle = async (delivery: Delivery, result: SendResult): Promise<void> => {
    if (result.kind === 'stopped') {
      await outbox.release(delivery.id, owner)
      return
    }
    if (result.kind === 'delivered') {
      if (await outbox.delivered(delivery.id, owner)) counters.delivered++
      return
    }
    const attempts = delivery.attempts + 1
    if (attempts >= schedule.maxAttempts) {
      if (await outbox.fail(delivery.id, owner, result.error)) {
        counters.failed++
        log('warn', `webhook ${delivery.event} for ${JSON.stringify(delivery.room)} to ${delivery.url} failed for good after ${attempts} attempts: ${result.error} (quire webhooks --requeue ${delivery.id})`)
      }
      return
    }
    if (await outbox.retry(delivery.id, owner, schedule.delayAfter(attempts), result.error)) counters.retried++
  }

  const attempt = (delivery: Delivery): void => {
    const done = send(delivery, { secret: options.secret, timeoutMs: options.attemptTimeoutMs, stop: stopping.signal })
      .then((result) => settle(delivery, result))
      .catch((error: unknown) => {
        // The outbox could not record the outcome: the lease runs out and the delivery is tried again.
        log('error', `webhook delivery ${delivery.id}: recording the attempt failed: ${error instanceof Error ? error.message : String(error)}`)
      })
      .finally(() => {
        inFlight.delete(done)
        wake()
      })
    inFlight.add(done)
  }

  const claimDue = async (): Promise<void> => {
    do {
      again = false
      const free = options.maxInFlight - inFlight.size
      if (free <= 0 || stopping.signal.aborted) return
      const claimed = await outbox.claim(free, leaseMs, owner)
      for (const delivery of claimed) attempt(delivery)
      if (claimed.length === free) return // full: a finished attempt wakes us
    } while (again)
    const next = await outbox.nextDueInMs()
    // Only a shared outbox gets deliveries this process does not enqueue (and wake for).
    if (outbox.shared) arm(Math.min(next ?? options.pollMs, options.pollMs))
    else if (next !== null) arm(next)
  }

  function wake(): void {
    if (stopping.signal.aborted) return
    if (running !== null) {
      again = true
      return
    }
    running = claimDue()
      .catch((error: unknown) => {
        log('error', `webhook outbox unreachable, trying again in ${options.pollMs} ms: ${error instanceof Error ? error.message : String(error)}`)
        arm(options.pollMs)
      })
      .finally(() => {
        running = null
        if (again) wake()
      })
  }

  wake()
  return {
    wake,
    async stop() {
      stopping.abort()
      if (timer !== null) clearTimeout(timer)
      await running
      await Promise.all([...inFlight])
    }
  }
}
