import { parseArgs } from 'node:util'
import { createShareTokenIssuer } from '../auth/create-share-token-issuer.js'
import { createTokenAuthenticator } from '../auth/create-token-authenticator.js'
import { MIN_SECRET_BYTES } from '../auth/room-token.js'
import { signRoomToken } from '../auth/sign-room-token.js'
import { DEFAULT_LIMITS, type Limits } from '../limits/limits.js'
import { consoleLog } from '../log.js'
import { createServer } from '../create-server.js'
import { DOCUMENT_COMMANDS_USAGE, runDocumentCommand } from './document-commands.js'
import { parseDuration } from './parse-duration.js'
import { applyServeHeapFlags } from './serve-heap-flags.js'

const USAGE = `Usage: quire <command> [options]

Commands:
  serve     Start the sync server
            --host <addr>                   address to listen on (default 127.0.0.1)
            --port <n>                      port (default 1234; 0 picks a free one)
            --data <dir>                    LevelDB data directory (default ./data)
            --static <dir>                  serve a built web app (e.g. demo/dist)
            --auth-secret-env <NAME>        require signed tokens; the HMAC secret is read from
                                            the environment variable NAME (at least ${MIN_SECRET_BYTES} bytes).
                                            Without it the server is open to everyone.
            --allow-origin <origin>         allow browser pages from this origin (repeatable);
                                            default: every origin
            --max-message-bytes <n>         largest accepted message (default 16777216)
            --max-room-name-bytes <n>       longest room name in UTF-8 bytes (default 1024)
            --max-messages-per-second <n>   per connection (default ${DEFAULT_LIMITS.maxMessagesPerSecond}, burst ${DEFAULT_LIMITS.messageBurst})
            --max-bytes-per-second <n>      per connection (default ${DEFAULT_LIMITS.maxBytesPerSecond})
            --max-awareness-per-second <n>  presence updates per connection (default ${DEFAULT_LIMITS.maxAwarenessPerSecond}, burst ${DEFAULT_LIMITS.awarenessBurst})
            --max-connections-per-ip <n>    open connections from one address (default ${DEFAULT_LIMITS.maxConnectionsPerIp})
            --max-connections <n>           open connections in this process (default ${DEFAULT_LIMITS.maxConnections})
            --max-rooms <n>                 rooms open in memory (default ${DEFAULT_LIMITS.maxRooms})
            --slow-consumer-bytes <n>       unsent bytes a slow client may hold for the grace period (default ${DEFAULT_LIMITS.slowConsumerBytes})
            --slow-consumer-grace-ms <n>    (default ${DEFAULT_LIMITS.slowConsumerGraceMs})
            --max-buffered-bytes <n>        unsent bytes that close a client at once (default 67108864)
            --compact-after <n>             compact a document's log past n updates (default 1000)
            --no-fsync                      do not fsync group commits (faster, loses data on power loss)
  token     Print a signed access token for quire serve --auth-secret-env
            --room <name>                   the room (or, with --prefix, the room name prefix)
            --prefix                        grant every room whose name starts with --room
            --access read|write             what the token allows
            --ttl <duration>                lifetime: 90s, 30m, 1h, 7d (default 1h)
            --user <name>                   who the token is for (default "user")
            --secret-env <NAME>             environment variable holding the secret (default QUIRE_SECRET)
${DOCUMENT_COMMANDS_USAGE}  help      Show this text
`

/** The only code that reads argv and the environment. Returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return serve(rest)
    case 'token':
      return token(rest)
    case 'inspect':
    case 'export':
    case 'import':
    case 'compact':
      return runDocumentCommand(command, rest)
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return 0
    default:
      process.stderr.write(`quire: unknown command "${command}"\n\n${USAGE}`)
      return 2
  }
}

function parseCount(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got "${value}"`)
  return n
}

function parsePositive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = parseCount(name, value, 0)
  if (n === 0) throw new Error(`--${name} must be greater than 0`)
  return n
}

/** The secret from the environment variable `name`, refused when unset or too short. */
function readSecretFromEnv(name: string): string {
  const secret = process.env[name] ?? ''
  if (secret === '') throw new Error(`the environment variable ${name} is empty or unset: it must hold the token secret (at least ${MIN_SECRET_BYTES} bytes, e.g. from: openssl rand -base64 48)`)
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new Error(`the secret in ${name} is ${Buffer.byteLength(secret)} bytes; it must be at least ${MIN_SECRET_BYTES} (e.g. from: openssl rand -base64 48)`)
  }
  return secret
}

async function serve(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '1234' },
      data: { type: 'string', default: './data' },
      static: { type: 'string' },
      'auth-secret-env': { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
      'max-message-bytes': { type: 'string' },
      'max-room-name-bytes': { type: 'string' },
      'max-messages-per-second': { type: 'string' },
      'max-bytes-per-second': { type: 'string' },
      'max-awareness-per-second': { type: 'string' },
      'max-connections-per-ip': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-rooms': { type: 'string' },
      'slow-consumer-bytes': { type: 'string' },
      'slow-consumer-grace-ms': { type: 'string' },
      'max-buffered-bytes': { type: 'string' },
      'compact-after': { type: 'string' },
      'no-fsync': { type: 'boolean', default: false }
    },
    strict: true
  })
  const secretEnv = values['auth-secret-env']
  const secret = secretEnv === undefined ? null : readSecretFromEnv(secretEnv)
  const maxMessagesPerSecond = parsePositive('max-messages-per-second', values['max-messages-per-second'])
  const maxAwarenessPerSecond = parsePositive('max-awareness-per-second', values['max-awareness-per-second'])
  const limits: Partial<Limits> = {
    maxMessagesPerSecond,
    // A raised rate raises its burst in proportion, keeping the default's 5 seconds of slack.
    messageBurst: maxMessagesPerSecond === undefined ? undefined : Math.max(DEFAULT_LIMITS.messageBurst, maxMessagesPerSecond * 5),
    maxBytesPerSecond: parsePositive('max-bytes-per-second', values['max-bytes-per-second']),
    maxAwarenessPerSecond,
    awarenessBurst: maxAwarenessPerSecond === undefined ? undefined : Math.max(DEFAULT_LIMITS.awarenessBurst, maxAwarenessPerSecond * 10),
    maxConnectionsPerIp: parsePositive('max-connections-per-ip', values['max-connections-per-ip']),
    maxConnections: parsePositive('max-connections', values['max-connections']),
    maxRooms: parsePositive('max-rooms', values['max-rooms']),
    slowConsumerBytes: parsePositive('slow-consumer-bytes', values['slow-consumer-bytes']),
    slowConsumerGraceMs: parsePositive('slow-consumer-grace-ms', values['slow-consumer-grace-ms'])
  }
  const allowedOrigins = values['allow-origin']
  const maxBufferedBytes = parsePositive('max-buffered-bytes', values['max-buffered-bytes'])
  const maxRoomNameBytes = parsePositive('max-room-name-bytes', values['max-room-name-bytes'])
  const server = createServer({
    dataDir: values.data,
    staticDir: values.static,
    maxMessageBytes: parseCount('max-message-bytes', values['max-message-bytes'], 16 * 1024 * 1024),
    ...(maxBufferedBytes === undefined ? {} : { maxBufferedBytes }),
    ...(maxRoomNameBytes === undefined ? {} : { maxRoomNameBytes }),
    compactAfter: parseCount('compact-after', values['compact-after'], 1000),
    fsync: !values['no-fsync'],
    limits,
    ...(allowedOrigins === undefined ? {} : { allowedOrigins }),
    ...(secret === null
      ? {}
      : { authenticate: createTokenAuthenticator({ secret }), shareTokens: createShareTokenIssuer({ secret }) }),
    log: consoleLog,
    // Node resets V8 flags when it starts a worker: without this, the first compaction
    // let the young generation grow to 32 MiB for good (measured on Node 20.20).
    onWorkerStarted: applyServeHeapFlags
  })
  const { url } = await server.listen(parseCount('port', values.port, 1234), values.host)
  process.stdout.write(`quire listening on ${url}\n`)
  consoleLog('info', `data in ${values.data}${values.static ? `, serving ${values.static}` : ''}`)
  consoleLog(
    'info',
    secret === null
      ? 'open access: no authentication configured, anyone who can reach this port can read and write every room (use --auth-secret-env NAME)'
      : `token authentication on (secret from $${secretEnv}); read-only share links at /api/share`
  )
  consoleLog(
    'info',
    allowedOrigins === undefined
      ? 'browser pages from any origin may connect (restrict with --allow-origin)'
      : `browser pages may connect only from: ${allowedOrigins.join(', ')}`
  )

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      consoleLog('info', `${signal}: closing connections and flushing writes`)
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      server.close().then(resolve, (error: unknown) => {
        consoleLog('error', `shutdown: ${error instanceof Error ? error.message : String(error)}`)
        resolve()
      })
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  consoleLog('info', 'stopped')
  return 0
}

async function token(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      room: { type: 'string' },
      prefix: { type: 'boolean', default: false },
      access: { type: 'string' },
      ttl: { type: 'string', default: '1h' },
      user: { type: 'string', default: 'user' },
      'secret-env': { type: 'string', default: 'QUIRE_SECRET' }
    },
    strict: true
  })
  const room = values.room
  if (room === undefined) throw new Error('quire token: --room is required')
  const access = values.access
  if (access !== 'read' && access !== 'write') throw new Error('quire token: --access must be read or write')
  const secret = readSecretFromEnv(values['secret-env'])
  const scope = values.prefix ? { roomPrefix: room } : { room }
  const signed = await signRoomToken({ ...scope, access, user: values.user }, { secret, ttlSeconds: parseDuration(values.ttl) })
  process.stdout.write(`${signed}\n`)
  return 0
}
