import { pino, type Logger } from 'pino'
import type { Log, LogLevel } from '../log.js'

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/** What `quire serve` logs when not told: everything but the per-connection debug lines. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'

export function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text)
}

export interface PinoLogOptions {
  readonly level: LogLevel
  /** Readable lines (a terminal) instead of JSON lines (a log collector). */
  readonly pretty: boolean
}

/**
 * Fields that hold secrets wherever they appear, one level deep included: the server
 * never puts them in a line (URLs go through redactUrl), but an embedder's or another
 * package's fields might, and a secret in a log collector is a leaked secret.
 */
const REDACTED_PATHS = [
  'token', 'apiKey', 'api_key', 'authorization', 'password', 'secret', 'cookie',
  '*.token', '*.apiKey', '*.api_key', '*.authorization', '*.password', '*.secret', '*.cookie',
  'headers.authorization', 'headers.cookie', 'req.headers.authorization', 'req.headers.cookie'
]

/**
 * The logger of `quire serve`: JSON lines (pino's format: `level`, `time`, `msg`, and the
 * line's fields such as `conn` and `room`) or, on a terminal, pino-pretty's readable
 * lines. Both are written synchronously: a server that exits right after its drain must
 * not lose the lines saying what it flushed (and pino-pretty in-process avoids the
 * worker thread of pino's transports). pino-pretty is loaded only for a terminal: a
 * server writing JSON does not carry it on its heap.
 */
export async function createPinoLogger(options: PinoLogOptions): Promise<Logger> {
  const settings = { level: options.level, base: { pid: process.pid }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }
  if (options.pretty) {
    const { build: pinoPretty } = await import('pino-pretty')
    return pino(settings, pinoPretty({ sync: true, colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
  }
  return pino(settings, pino.destination({ fd: 1, sync: true }))
}

/** The server's `Log` on top of `logger`. */
export function logToPino(logger: Logger): Log {
  return (level, message, fields) => {
    if (fields === undefined) logger[level](message)
    else logger[level](fields, message)
  }
}
