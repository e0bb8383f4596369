import { parseArgs } from 'node:util'
import { consoleLog } from '../log.js'
import { createServer } from '../create-server.js'

const USAGE = `Usage: quire <command> [options]

Commands:
  serve     Start the sync server
            --host <addr>              address to listen on (default 127.0.0.1)
            --port <n>                 port (default 1234; 0 picks a free one)
            --data <dir>               LevelDB data directory (default ./data)
            --static <dir>             serve a built web app (e.g. demo/dist)
            --max-message-bytes <n>    largest accepted message (default 16777216)
            --compact-after <n>        compact a document's log past n updates (default 1000)
            --no-fsync                 do not fsync group commits (faster, loses data on power loss)
  help      Show this text
`

/** The only code that reads argv and the environment. Returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return serve(rest)
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

async function serve(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '1234' },
      data: { type: 'string', default: './data' },
      static: { type: 'string' },
      'max-message-bytes': { type: 'string' },
      'compact-after': { type: 'string' },
      'no-fsync': { type: 'boolean', default: false }
    },
    strict: true
  })
  const server = createServer({
    dataDir: values.data,
    staticDir: values.static,
    maxMessageBytes: parseCount('max-message-bytes', values['max-message-bytes'], 16 * 1024 * 1024),
    compactAfter: parseCount('compact-after', values['compact-after'], 1000),
    fsync: !values['no-fsync'],
    log: consoleLog
  })
  const { url } = await server.listen(parseCount('port', values.port, 1234), values.host)
  process.stdout.write(`quire listening on ${url}\n`)
  consoleLog('info', `data in ${values.data}${values.static ? `, serving ${values.static}` : ''}; open access (no authentication configured)`)

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
