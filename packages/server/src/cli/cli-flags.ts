import { parseArgs, type ParseArgsConfig } from 'node:util'

/**
 * A command's flags as one table, one row per flag: its spelling, its line in the usage
 * text and what its value does to the command's settings. The usage, the `parseArgs`
 * options and the reading of the values all come from the table, so a flag cannot be
 * accepted without being documented or documented without being read, and adding one is
 * adding a row. (They were three lists kept in step by hand, and drifted.)
 *
 * A row's `default` is the value that applies when the flag is absent (a value the flag
 * would accept, not a description), for the usage to show. The value itself belongs to
 * whoever applies it (the server's `SERVER_DEFAULTS`, `DEFAULT_LIMITS`) and the row only
 * points at it, so it is written once. `set` runs only for a flag that was given: what
 * the flags leave out, the server decides.
 */
export type CliFlag<S> =
  | (FlagRow & { readonly kind: 'text'; readonly set: (settings: S, value: string) => void })
  | (FlagRow & { readonly kind: 'whole' | 'positive'; readonly set: (settings: S, value: number) => void })
  | (FlagRow & { readonly kind: 'list'; readonly set: (settings: S, values: readonly string[]) => void })
  | (FlagRow & { readonly kind: 'switch'; readonly set: (settings: S) => void })

interface FlagRow {
  /** Without the leading `--`. */
  readonly name: string
  /** Other spellings of the same flag, still accepted (an older name, say). */
  readonly aliases?: readonly string[]
  /** The value in the usage, e.g. `<dir>`; `<n>` for numbers, none for a switch. */
  readonly placeholder?: string
  /** May span lines; the default, if any, is added to the last one. */
  readonly help: string
  readonly default?: string | number
}

/** Where the usage puts a flag, and where its help starts. */
const FLAG_INDENT = 12
const HELP_COLUMN = 44

export function spellingsOf(flag: CliFlag<never>): readonly string[] {
  return [flag.name, ...(flag.aliases ?? [])]
}

function placeholderOf(flag: CliFlag<never>): string | null {
  if (flag.kind === 'switch') return null
  return flag.placeholder ?? (flag.kind === 'whole' || flag.kind === 'positive' ? '<n>' : '<value>')
}

/** The usage lines of `flags`, indented to sit under a command's name. */
export function formatFlagUsage(flags: readonly CliFlag<never>[]): string {
  const lines: string[] = []
  for (const flag of flags) {
    const placeholder = placeholderOf(flag)
    const spelling = placeholder === null ? `--${flag.name}` : `--${flag.name} ${placeholder}`
    const help = (flag.default === undefined ? flag.help : `${flag.help} (default ${flag.default})`).split('\n')
    for (const alias of flag.aliases ?? []) help.push(`(also accepted as --${alias})`)
    const first = `${' '.repeat(FLAG_INDENT)}${spelling}`
    lines.push(`${first.padEnd(HELP_COLUMN - 1)} ${help[0] ?? ''}`.trimEnd())
    for (const more of help.slice(1)) lines.push(`${' '.repeat(HELP_COLUMN)}${more}`)
  }
  return `${lines.join('\n')}\n`
}

/** The `parseArgs` options that accept `flags`, aliases included. */
export function parseArgsOptionsOf(flags: readonly CliFlag<never>[]): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {}
  for (const flag of flags) {
    for (const spelling of spellingsOf(flag)) {
      options[spelling] = flag.kind === 'switch' ? { type: 'boolean' } : { type: 'string', multiple: flag.kind === 'list' }
    }
  }
  return options
}

/**
 * Reads `args` for `quire <command>` into `settings`, row by row, and returns the
 * positional arguments (refused unless `allowPositionals`). Throws an Error that names
 * the command and the flag, and says what to do, for an unknown flag, a missing or bad
 * value, or a flag given under two spellings.
 */
export function readFlags<S>(
  command: string,
  flags: readonly CliFlag<S>[],
  args: readonly string[],
  settings: S,
  allowPositionals = false
): string[] {
  const parsed = parseArgsFor(command, { args: [...args], options: parseArgsOptionsOf(flags), strict: true, allowPositionals })
  for (const flag of flags) {
    const given = spellingsOf(flag).filter((spelling) => parsed.values[spelling] !== undefined)
    const spelling = given[0]
    if (spelling === undefined) continue
    if (given.length > 1) {
      throw new Error(`quire ${command}: ${given.map((s) => `--${s}`).join(' and ')} are the same flag; give it once`)
    }
    const value = parsed.values[spelling]
    switch (flag.kind) {
      case 'switch':
        flag.set(settings)
        break
      case 'list':
        flag.set(settings, Array.isArray(value) ? value.map(String) : [String(value)])
        break
      case 'text':
        flag.set(settings, String(value))
        break
      case 'whole':
      case 'positive':
        flag.set(settings, readNumber(command, spelling, String(value), flag.kind))
        break
    }
  }
  return parsed.positionals
}

function parseArgsFor(command: string, config: ParseArgsConfig): ReturnType<typeof parseArgs<ParseArgsConfig>> {
  try {
    return parseArgs(config)
  } catch (error) {
    // parseArgs says what is wrong with the arguments, but not for which command.
    throw new Error(`quire ${command}: ${error instanceof Error ? error.message : String(error)}\n(quire help lists the options of every command)`, { cause: error })
  }
}

function readNumber(command: string, spelling: string, text: string, kind: 'whole' | 'positive'): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`quire ${command}: --${spelling} must be a whole number, got "${text}"`)
  }
  if (kind === 'positive' && n === 0) throw new Error(`quire ${command}: --${spelling} must be greater than 0`)
  return n
}
