import { signRoomToken } from '../auth/sign-room-token.js'
import { readFlags, type CliFlag } from './cli-flags.js'
import { parseDuration } from './parse-duration.js'
import { readSecretFromEnv, secretEnvFlag } from './secret-env.js'

/** What `quire token` does when not told otherwise. */
export const TOKEN_DEFAULTS = { ttl: '1h', user: 'user', secretEnv: 'QUIRE_SECRET' } as const

export interface TokenSettings {
  room: string | undefined
  prefix: boolean
  access: string | undefined
  ttl: string
  user: string
  secretEnv: string
}

/** The flags of `quire token`, one row each (see cli-flags.ts). */
export const TOKEN_FLAGS: readonly CliFlag<TokenSettings>[] = [
  { kind: 'text', name: 'room', placeholder: '<name>', help: 'the room (or, with --prefix, the room name prefix)', set: (s, room) => { s.room = room } },
  { kind: 'switch', name: 'prefix', help: 'grant every room whose name starts with --room', set: (s) => { s.prefix = true } },
  { kind: 'text', name: 'access', placeholder: 'read|write', help: 'what the token allows', set: (s, access) => { s.access = access } },
  { kind: 'text', name: 'ttl', placeholder: '<duration>', help: 'lifetime: 90s, 30m, 1h, 7d', default: TOKEN_DEFAULTS.ttl, set: (s, ttl) => { s.ttl = ttl } },
  { kind: 'text', name: 'user', placeholder: '<name>', help: 'who the token is for', default: TOKEN_DEFAULTS.user, set: (s, user) => { s.user = user } },
  secretEnvFlag<TokenSettings>({
    help: 'environment variable holding the secret',
    default: TOKEN_DEFAULTS.secretEnv,
    set: (s, name) => { s.secretEnv = name }
  })
]

/** `quire token`: prints one signed room token on stdout, nothing else. */
export async function token(args: readonly string[]): Promise<number> {
  const settings: TokenSettings = { room: undefined, prefix: false, access: undefined, ...TOKEN_DEFAULTS }
  readFlags('token', TOKEN_FLAGS, args, settings)
  const { room, access } = settings
  if (room === undefined) throw new Error('quire token: --room is required')
  if (access !== 'read' && access !== 'write') throw new Error('quire token: --access must be read or write')
  const secret = readSecretFromEnv(settings.secretEnv)
  const scope = settings.prefix ? { roomPrefix: room } : { room }
  const signed = await signRoomToken({ ...scope, access, user: settings.user }, { secret, ttlSeconds: parseDuration(settings.ttl) })
  process.stdout.write(`${signed}\n`)
  return 0
}
