/**
 * Token auth as the server's CLI offers it (`quire serve --secret-env`,
 * `quire token`). The read-only e2e test requires it: where the CLI lacks it, that
 * test fails and says what is missing.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { quireCliPath } from './paths.js'

export const SECRET_ENV = 'QUIRE_SECRET'

/** Why token auth is not available in the built CLI, or null when it is. */
export function findMissingAuthSupport(): string | null {
  const help = spawnSync(process.execPath, [quireCliPath, 'help'], { encoding: 'utf8' })
  if (help.status !== 0) return `\`quire help\` failed (exit ${help.status}): ${help.stderr.trim()}`
  if (!/^\s+token\s/m.test(help.stdout)) return 'the quire CLI has no `token` command yet'
  if (!help.stdout.includes('--secret-env')) return '`quire serve` has no --secret-env option yet'
  return null
}

export function createSecret(): string {
  return randomBytes(32).toString('base64url')
}

/** Mints a token with `quire token`, exactly as an operator would. */
export function mintToken(secret: string, room: string, access: 'read' | 'write', user: string): string {
  const result = spawnSync(
    process.execPath,
    [quireCliPath, 'token', '--room', room, '--access', access, '--ttl', '1h', '--user', user],
    { encoding: 'utf8', env: { ...process.env, [SECRET_ENV]: secret } }
  )
  if (result.status !== 0) throw new Error(`quire token failed (exit ${result.status}): ${result.stderr.trim()}`)
  const token = result.stdout.trim()
  if (token === '' || token.includes('\n')) throw new Error(`quire token printed an unexpected value: ${JSON.stringify(result.stdout)}`)
  return token
}
