import { SERVER_DEFAULTS } from '../server-options.js'
import { consoleLog } from '../log.js'
import { createLevelStorage } from '../storage/level-storage.js'
import { describeDelivery } from '../webhooks/deliveries-route.js'
import type { Delivery, DeliveryStatus } from '../webhooks/webhook-outbox.js'
import { formatFlagUsage, readFlags, type CliFlag } from './cli-flags.js'
import { openPostgresStorage, postgresUrlFrom } from './storage-choice.js'

/**
 * `quire webhooks`: the outbox of a data directory (or a PostgreSQL schema), offline like
 * the document commands: it lists pending and failed deliveries and puts failed ones back
 * in the queue. On LevelDB the server must not be running (the store's lock says so); on
 * PostgreSQL it may, and a running clone picks a re-queued delivery up within a second.
 */
interface WebhooksSettings {
  dataDir: string
  postgresUrl: string | undefined
  postgresSchema: string | undefined
  status: DeliveryStatus | undefined
  requeue: string | undefined
  requeueFailed: boolean
  limit: number
  json: boolean
}

export const WEBHOOKS_FLAGS: readonly CliFlag<WebhooksSettings>[] = [
  { kind: 'text', name: 'data', placeholder: '<dir>', help: 'LevelDB data directory', default: SERVER_DEFAULTS.dataDir, set: (s, dir) => { s.dataDir = dir } },
  { kind: 'text', name: 'postgres', placeholder: '<url>', help: 'the outbox in PostgreSQL instead (or QUIRE_POSTGRES_URL)', set: (s, url) => { s.postgresUrl = url } },
  { kind: 'text', name: 'postgres-schema', placeholder: '<name>', help: "schema of Quire's tables", set: (s, name) => { s.postgresSchema = name } },
  {
    kind: 'text',
    name: 'status',
    placeholder: 'pending|failed',
    help: 'list only these (default: both)',
    set: (s, status) => {
      if (status !== 'pending' && status !== 'failed') throw new Error(`quire webhooks: --status must be pending or failed, got "${status}"`)
      s.status = status
    }
  },
  { kind: 'text', name: 'requeue', placeholder: '<id>', help: 'put this failed delivery back in the queue', set: (s, id) => { s.requeue = id } },
  { kind: 'switch', name: 'requeue-failed', help: 'put every failed delivery back in the queue', set: (s) => { s.requeueFailed = true } },
  { kind: 'positive', name: 'limit', help: 'list at most n of each', default: 100, set: (s, n) => { s.limit = n } },
  { kind: 'switch', name: 'json', help: 'one JSON object per line', set: (s) => { s.json = true } }
]

export const WEBHOOKS_USAGE = `  webhooks  List pending and failed webhook deliveries; re-queue failed ones
            quire webhooks --data <dir> [--status pending|failed] [--requeue <id> | --requeue-failed]
${formatFlagUsage(WEBHOOKS_FLAGS)}`

export async function runWebhooksCommand(args: readonly string[]): Promise<number> {
  const settings: WebhooksSettings = {
    dataDir: SERVER_DEFAULTS.dataDir,
    postgresUrl: undefined,
    postgresSchema: undefined,
    status: undefined,
    requeue: undefined,
    requeueFailed: false,
    limit: 100,
    json: false
  }
  readFlags('webhooks', WEBHOOKS_FLAGS, args, settings)
  if (settings.requeue !== undefined && settings.requeueFailed) throw new Error('quire webhooks: give --requeue <id> or --requeue-failed, not both')
  const postgresUrl = postgresUrlFrom(settings.postgresUrl, process.env)
  const storage =
    (await openPostgresStorage({ postgresUrl, postgresSchema: settings.postgresSchema }, consoleLog)) ?? (await createLevelStorage(settings.dataDir))
  try {
    const outbox = storage.webhookOutbox
    if (outbox === undefined) throw new Error('quire webhooks: this store keeps no webhook outbox')
    if (settings.requeue !== undefined) {
      const requeued = await outbox.requeue({ id: settings.requeue })
      if (requeued === 0) {
        process.stderr.write(`no failed delivery with id ${JSON.stringify(settings.requeue)} (quire webhooks --status failed lists them)\n`)
        return 1
      }
      process.stderr.write(`re-queued ${settings.requeue}: due now\n`)
      return 0
    }
    if (settings.requeueFailed) {
      const requeued = await outbox.requeue('failed')
      process.stderr.write(`re-queued ${requeued} failed deliver${requeued === 1 ? 'y' : 'ies'}: due now\n`)
      return 0
    }
    const counts = await outbox.count()
    const statuses: DeliveryStatus[] = settings.status === undefined ? ['pending', 'failed'] : [settings.status]
    if (!settings.json) process.stdout.write(`${counts.pending} pending, ${counts.failed} failed\n`)
    for (const status of statuses) {
      for (const delivery of await outbox.list(status, settings.limit)) process.stdout.write(`${settings.json ? JSON.stringify(describeDelivery(delivery)) : formatDelivery(delivery)}\n`)
    }
    return 0
  } finally {
    await storage.close()
  }
}

/** One line: id, status, event, room, URL, attempts, when (next attempt or failure), last error. */
function formatDelivery(d: Delivery): string {
  const when = new Date(d.nextAttemptAt).toISOString()
  return [d.id, d.status, d.event, JSON.stringify(d.room), d.url, `${d.attempts} attempts`, d.status === 'pending' ? `due ${when}` : `failed ${when}`, d.lastError ?? ''].join('\t')
}
