import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS, DEFAULT_WEBHOOK_SETTINGS, verifyRoomToken } from '@quire/server'
import { QUIRE_BIN, spawnQuireServer } from '@quire/testkit'
import { DEFAULT_BACKGROUND_NICE } from '../src/cli/background-threads.js'
import { readFlags, spellingsOf, type CliFlag } from '../src/cli/cli-flags.js'
import { DEFAULT_LOG_LEVEL } from '../src/cli/pino-log.js'
import { createServeSettings, SERVE_FLAGS, serverOptionsFrom } from '../src/cli/serve-command.js'
import { TOKEN_DEFAULTS, TOKEN_FLAGS } from '../src/cli/token-command.js'
import { DEFAULT_COMPACTION_POLICY } from '../src/compaction/compaction-policy.js'
import { resolveServerOptions, SERVER_DEFAULTS } from '../src/server-options.js'
import { waitUntil } from './wait-until.js'

/**
 * The flag tables of `quire serve` and `quire token` (src/cli): every row is in the help,
 * parsed, and read into the server's options; the defaults the help shows are the ones
 * the server applies; the token secret is named the same way for both commands.
 */

const run = promisify(execFile)
const quire = (args: readonly string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, [QUIRE_BIN, ...args], { env: { ...process.env, ...env } })

const SECRET = 'test secret that is comfortably longer than 32 bytes'

/** What the server would run with for these `quire serve` arguments, listening address included. */
function servedWith(args: readonly string[]) {
  const settings = createServeSettings()
  readFlags('serve', SERVE_FLAGS, args, settings)
  return {
    ...resolveServerOptions(serverOptionsFrom(settings, null)),
    host: settings.host ?? SERVER_DEFAULTS.host,
    port: settings.port ?? SERVER_DEFAULTS.port,
    secretEnv: settings.secretEnv,
    // API keys are read from the environment by the CLI, like the secret.
    apiKeyEnvs: settings.apiKeyEnvs,
    // The CLI opens PostgreSQL storage itself and hands it to the server.
    postgresUrl: settings.postgresUrl,
    postgresSchema: settings.postgresSchema,
    // And the traffic between clones.
    redisUrl: settings.redisUrl,
    redisPrefix: settings.redisPrefix,
    cloneHeartbeatMs: settings.cloneHeartbeatMs,
    // The CLI sets its own threads' priorities; the server never sees it.
    backgroundNice: settings.backgroundNice ?? DEFAULT_BACKGROUND_NICE,
    // The CLI builds the logger at this level and hands the server its Log.
    logLevel: settings.logLevel ?? DEFAULT_LOG_LEVEL,
    // Webhooks are the server's only with a secret from the environment: what the flags chose.
    webhookUrls: settings.webhookUrls,
    webhookSecretEnv: settings.webhookSecretEnv,
    webhook: { ...DEFAULT_WEBHOOK_SETTINGS, ...settings.webhook }
  }
}

/** The lines of `help` under `command`, up to the next command. */
function helpSectionOf(help: string, command: string): string[] {
  const lines = help.split('\n')
  const start = lines.findIndex((l) => l.startsWith(`  ${command} `))
  if (start < 0) throw new Error(`quire help has no command ${command}:\n${help}`)
  const end = lines.findIndex((l, i) => i > start && /^  \S/.test(l))
  return lines.slice(start + 1, end < 0 ? undefined : end)
}

/** The lines of `command`'s help that document `--name`: the flag's line and those continuing it. */
function helpEntryOf(help: string, command: string, name: string): string {
  const section = helpSectionOf(help, command)
  const start = section.findIndex((l) => new RegExp(`^ {12}--${name}(\\s|$)`).test(l))
  if (start < 0) throw new Error(`quire help has no line for ${command} --${name}:\n${help}`)
  const end = section.findIndex((l, i) => i > start && !/^ {13,}\S/.test(l))
  return section.slice(start, end < 0 ? undefined : end).join('\n')
}

/** Two values each list flag accepts (a list flag has no default: absent is the empty list). */
const LIST_SAMPLES: Record<string, readonly [string, string]> = {
  'allow-origin': ['https://a.example', 'https://b.example'],
  'trust-proxy': ['loopback', '10.0.0.0/8'],
  'api-key-env': ['QUIRE_KEY_A', 'QUIRE_KEY_B'],
  'webhook-url': ['http://127.0.0.1:9/a', 'http://127.0.0.1:9/b']
}

/** A value a text flag accepts other than its default, where not any text will do. */
const TEXT_SAMPLES: Record<string, string> = {
  'log-level': 'debug',
  'webhook-debounce': '3s',
  'webhook-max-wait': '20s',
  'webhook-retry-base': '500ms',
  'history-idle': '90s',
  'commit-interval': '20ms',
  'history-max-interval': '2h',
  'history-retention': '7d,*:30d'
}

/** A value the flag accepts that is not its default. */
function otherValueOf(flag: CliFlag<never>): string[] {
  switch (flag.kind) {
    case 'switch':
      return [`--${flag.name}`]
    case 'whole':
    case 'positive':
      return [`--${flag.name}`, String(Number(flag.default ?? 0) + 7)]
    case 'list': {
      const samples = LIST_SAMPLES[flag.name]
      if (samples === undefined) throw new Error(`add two values --${flag.name} accepts to LIST_SAMPLES`)
      return [`--${flag.name}`, samples[0], `--${flag.name}`, samples[1]]
    }
    case 'text':
      return [`--${flag.name}`, TEXT_SAMPLES[flag.name] ?? 'something-else']
  }
}

describe('quire help', () => {
  it('shows every flag of serve and token, aliases too, each with the default its row names', async () => {
    const { stdout } = await quire(['help'])
    const tables: [string, readonly CliFlag<never>[]][] = [['serve', SERVE_FLAGS], ['token', TOKEN_FLAGS]]
    for (const [command, flags] of tables) {
      const section = helpSectionOf(stdout, command).join('\n')
      for (const flag of flags) {
        for (const spelling of spellingsOf(flag)) expect(section).toContain(`--${spelling}`)
        if (flag.default !== undefined) expect(helpEntryOf(stdout, command, flag.name)).toContain(`(default ${flag.default})`)
      }
    }
  })

  it('shows the server defaults, not copies of them', async () => {
    const { stdout } = await quire(['help'])
    const shown = (command: string, name: string): string => /\(default ([^)]+)\)/.exec(helpEntryOf(stdout, command, name))?.[1] ?? 'none'
    const applied = resolveServerOptions({})
    expect(shown('serve', 'max-message-bytes')).toBe(String(applied.maxMessageBytes))
    expect(shown('serve', 'max-buffered-bytes')).toBe(String(applied.maxBufferedBytes))
    expect(shown('serve', 'compact-after')).toBe(String(DEFAULT_COMPACTION_POLICY.maxUpdates))
    expect(shown('serve', 'max-room-name-bytes')).toBe(String(applied.maxRoomNameBytes))
    expect(shown('serve', 'max-rooms')).toBe(String(applied.limits.maxRooms))
    expect(shown('serve', 'data')).toBe(applied.dataDir)
    expect(shown('serve', 'port')).toBe(String(SERVER_DEFAULTS.port))
    expect(shown('serve', 'secret-env')).toBe('none')
    expect(shown('token', 'secret-env')).toBe(TOKEN_DEFAULTS.secretEnv)
  })
})

describe('the quire serve flag table', () => {
  it('no flags: the server runs with its own defaults', () => {
    expect(servedWith([])).toMatchObject({
      ...resolveServerOptions({}),
      log: expect.any(Function),
      onWorkerStarted: expect.any(Function),
      host: SERVER_DEFAULTS.host,
      port: SERVER_DEFAULTS.port,
      secretEnv: undefined,
      apiKeyEnvs: [],
      postgresUrl: undefined,
      postgresSchema: undefined,
      redisUrl: undefined,
      redisPrefix: undefined,
      cloneHeartbeatMs: undefined,
      backgroundNice: DEFAULT_BACKGROUND_NICE,
      logLevel: DEFAULT_LOG_LEVEL
    })
  })

  it.each(SERVE_FLAGS.filter((flag) => flag.default !== undefined).map((flag) => [flag.name, flag] as const))(
    '--%s given its shown default changes nothing the server runs with',
    (name, flag) => {
      expect(servedWith([`--${name}`, String(flag.default)])).toEqual(servedWith([]))
    }
  )

  it.each(SERVE_FLAGS.map((flag) => [flag.name, flag] as const))('--%s is read into what the server runs with', (_name, flag) => {
    expect(servedWith(otherValueOf(flag))).not.toEqual(servedWith([]))
  })

  it('a raised rate raises its burst: 5 s of messages, 10 s of presence updates', () => {
    expect(servedWith(['--max-messages-per-second', '1000', '--max-awareness-per-second', '100']).limits).toMatchObject({
      maxMessagesPerSecond: 1000,
      messageBurst: 5000,
      maxAwarenessPerSecond: 100,
      awarenessBurst: 1000
    })
    expect(servedWith(['--max-messages-per-second', '20']).limits.messageBurst).toBe(DEFAULT_LIMITS.messageBurst)
  })

  it('--secret-env and --auth-secret-env name the secret for serve alike; both at once are refused', () => {
    for (const spelling of ['--secret-env', '--auth-secret-env']) {
      const settings = createServeSettings()
      readFlags('serve', SERVE_FLAGS, [spelling, 'ROOM_SECRET'], settings)
      expect(settings.secretEnv).toBe('ROOM_SECRET')
    }
    expect(() => readFlags('serve', SERVE_FLAGS, ['--secret-env', 'A', '--auth-secret-env', 'B'], createServeSettings())).toThrow(
      'quire serve: --secret-env and --auth-secret-env are the same flag; give it once'
    )
  })
})

describe('quire serve and quire token refuse bad arguments before doing anything', () => {
  it.each([
    [['serve', '--max-rooms', '0'], 'quire serve: --max-rooms must be greater than 0'],
    [['serve', '--port', 'eighty'], 'quire serve: --port must be a whole number, got "eighty"'],
    [['serve', '--compact-after=-1'], 'quire serve: --compact-after must be a whole number, got "-1"'],
    [['serve', '--max-conections', '5'], "quire serve: Unknown option '--max-conections'"],
    [['serve', '--data'], "quire serve: Option '--data <value>' argument missing"],
    [['serve', '--postgres', 'postgres://postgres@127.0.0.1:1/test'], 'cannot open the PostgreSQL store: connect ECONNREFUSED 127.0.0.1:1 (is PostgreSQL running and the URL right?)'],
    [['serve', '--trust-proxy', 'loopback', '--trust-proxy', 'localhost'], 'quire serve: --trust-proxy must be an address (192.0.2.7, ::1), a CIDR range (10.0.0.0/8, fd00::/8) or loopback, got "localhost"'],
    [['serve', '--webhook-url', 'http://127.0.0.1:9/hook'], 'quire serve: --webhook-url needs --webhook-secret-env NAME'],
    [['serve', '--webhook-url', 'http://127.0.0.1:9/hook', '--webhook-secret-env', 'UNSET_WEBHOOK_SECRET'], 'quire serve: the environment variable UNSET_WEBHOOK_SECRET is empty or unset'],
    [['serve', '--webhook-url', 'ftp://127.0.0.1/hook', '--webhook-secret-env', 'QUIRE_SECRET'], 'quire serve: --webhook-url must be an http: or https: URL, got "ftp://127.0.0.1/hook"'],
    [['serve', '--webhook-debounce', 'soon'], '--webhook-debounce must be a duration like 500ms, 2s, 10m or 1h, got "soon"'],
    [['serve', '--webhook-url', 'http://127.0.0.1:9/hook', '--webhook-secret-env', 'QUIRE_SECRET', '--webhook-debounce', '20s'], 'quire serve: --webhook-max-wait (10s) must be at least --webhook-debounce (20s)'],
    [['token', '--room', 'r', '--access', 'read', '--ttl', 'soon'], '--ttl must be a duration like 90s, 30m, 1h or 7d, got "soon"'],
    [['token', '--room', 'r', '--access', 'admin'], 'quire token: --access must be read or write'],
    [['token', '--room', 'r', '--access', 'read', '--secret-env', 'A', '--auth-secret-env', 'B'], 'quire token: --secret-env and --auth-secret-env are the same flag; give it once']
  ])('quire %j', async (args, message) => {
    const failed = quire(args, { QUIRE_SECRET: SECRET })
    await expect(failed).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(message) })
  })

  it('an unknown flag points at quire help', async () => {
    await expect(quire(['serve', '--nope'])).rejects.toMatchObject({ stderr: expect.stringContaining('quire help lists the options') })
  })
})

describe('quire token', () => {
  it.each(['--secret-env', '--auth-secret-env'])('reads the secret from the variable %s names', async (spelling) => {
    const { stdout } = await quire(['token', '--room', 'r', '--access', 'write', spelling, 'MY_SECRET'], { MY_SECRET: SECRET })
    const { grant } = await verifyRoomToken(stdout.trim(), SECRET)
    expect(grant).toEqual({ room: 'r', user: TOKEN_DEFAULTS.user, access: 'write' })
  })
})

describe('quire serve --auth-secret-env, the earlier spelling', () => {
  it('turns token authentication on as --secret-env does', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'quire-cli-flags-'))
    try {
      const spawned = await spawnQuireServer({ dataDir, args: ['--auth-secret-env', 'ROOM_SECRET'], env: { ROOM_SECRET: SECRET } })
      try {
        await waitUntil(() => spawned.output().includes('token authentication on (secret from $ROOM_SECRET)'), { describe: spawned.output })
      } finally {
        await spawned.kill('SIGTERM')
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
