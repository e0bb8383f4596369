import { formatFlagUsage } from './cli-flags.js'
import { DOCUMENT_COMMANDS_USAGE, runDocumentCommand } from './document-commands.js'
import { serve, SERVE_FLAGS } from './serve-command.js'
import { token, TOKEN_FLAGS } from './token-command.js'
import { runWebhooksCommand, WEBHOOKS_USAGE } from './webhooks-command.js'

const USAGE = `Usage: quire <command> [options]

Commands:
  serve     Start the sync server
${formatFlagUsage(SERVE_FLAGS)}  token     Print a signed access token for quire serve --secret-env
${formatFlagUsage(TOKEN_FLAGS)}${DOCUMENT_COMMANDS_USAGE}${WEBHOOKS_USAGE}  help      Show this text
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
    case 'webhooks':
      return runWebhooksCommand(rest)
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
