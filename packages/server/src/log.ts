export type LogLevel = 'info' | 'warn' | 'error'

/** Where the server reports what it does; the CLI prints it, an embedder may route it. */
export type Log = (level: LogLevel, message: string) => void

export const consoleLog: Log = (level, message) => {
  const line = `[quire] ${message}`
  if (level === 'error') console.error(line)
  else if (level === 'warn') console.warn(line)
  else console.log(line)
}

/** Only warnings and errors: the default for an embedded server. */
export const quietLog: Log = (level, message) => {
  if (level !== 'info') consoleLog(level, message)
}
