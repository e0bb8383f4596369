/**
 * `node-bot`: appends lines to a Quire document's text and exits once the server
 * has saved them.
 *
 *   node-bot --room notes "Deployed v1.2.3"            one line from the arguments
 *   tail -f build.log | node-bot --room notes          every stdin line, as it arrives
 *
 * Options: --url (default ws://127.0.0.1:1234), --room (required), --token (or the
 * QUIRE_TOKEN environment variable), --text (the Y.Text, default `codemirror`: the demo's
 * code editor at /c/<room>), --timeout-ms (default 30000: how long to wait for the server).
 * Exit codes: 0 saved, 1 refused or timed out, 2 bad arguments.
 */
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { openAppendBot } from './append-bot.js'

const USAGE = 'usage: node-bot --room <name> [--url ws://127.0.0.1:1234] [--token <token>] [--text codemirror] [--timeout-ms 30000] [line…]'

interface BotArguments {
  readonly url: string
  readonly room: string
  readonly token: string | undefined
  readonly textName: string
  readonly timeoutMs: number
  /** null: read lines from stdin. */
  readonly line: string | null
}

function readArguments(argv: readonly string[], env: NodeJS.ProcessEnv): BotArguments | string {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        url: { type: 'string', default: 'ws://127.0.0.1:1234' },
        room: { type: 'string' },
        token: { type: 'string' },
        text: { type: 'string', default: 'codemirror' },
        'timeout-ms': { type: 'string', default: '30000' }
      }
    })
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
  const { values, positionals } = parsed
  if (values.room === undefined || values.room === '') return '--room is required'
  const timeoutMs = Number(values['timeout-ms'])
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) return `--timeout-ms must be a positive integer, got ${values['timeout-ms']}`
  const token = values.token ?? env['QUIRE_TOKEN']
  return {
    url: values.url,
    room: values.room,
    token: token === '' ? undefined : token,
    textName: values.text,
    timeoutMs,
    line: positionals.length > 0 ? positionals.join(' ') : null
  }
}

/** Rejects after `ms` with what was being waited for, so a silent server never hangs the bot. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function run(args: BotArguments): Promise<void> {
  const bot = await withTimeout(openAppendBot(args), args.timeoutMs, `the first sync with ${args.url}`)
  try {
    if (args.line !== null) {
      bot.append(args.line)
    } else {
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
        bot.append(line)
        console.log(`appended: ${line}`)
      }
    }
    if (bot.session.saved !== true) console.log('waiting for the server to save…')
    await withTimeout(bot.whenSaved(), args.timeoutMs, 'the server to save')
    console.log(`saved to ${args.room}`)
  } finally {
    await bot.close()
  }
}

const args = readArguments(process.argv.slice(2), process.env)
if (typeof args === 'string') {
  console.error(`node-bot: ${args}\n${USAGE}`)
  process.exitCode = 2
} else {
  run(args).catch((error: unknown) => {
    console.error(`node-bot: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  })
}
