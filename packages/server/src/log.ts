export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * Structured context of a log line: `conn` (a connection's id), `room`, `addr` (the client
 * address), `code` (a close code), counts. Never a token, an API key or a URL with its
 * query string (see redactUrl).
 */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>

/**
 * Where the server reports what it does; the CLI passes a pino logger, an embedder may
 * route it anywhere. `fields` is optional, so a `(level, message) => void` still is one.
 */
export type Log = (level: LogLevel, message: string, fields?: LogFields) => void

/** `key=value` pairs after the message, for the plain console. */
function formatFields(fields: LogFields | undefined): string {
  if (fields === undefined) return ''
  let text = ''
  for (const key of Object.keys(fields)) {
    const value = fields[key]
    if (value !== undefined) text += ` ${key}=${typeof value === 'string' ? JSON.stringify(value) : String(value)}`
  }
  return text
}

export const consoleLog: Log = (level, message, fields) => {
  const line = `[quire] ${message}${formatFields(fields)}`
  if (level === 'error') console.error(line)
  else if (level === 'warn') console.warn(line)
  else if (level === 'info') console.log(line)
}

/** Only warnings and errors: the default for an embedded server. */
export const quietLog: Log = (level, message, fields) => {
  if (level === 'warn' || level === 'error') consoleLog(level, message, fields)
}
