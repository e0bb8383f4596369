import type { Storage } from '../storage/storage.js'
import type { Log } from '../log.js'

/**
 * Where the CLI keeps documents: the embedded LevelDB directory by default, PostgreSQL
 * when a URL is given (`--postgres`, or QUIRE_POSTGRES_URL). PostgreSQL support is its
 * own package, `@quire/postgres`, loaded only here and only when asked for, so that a
 * server on LevelDB never loads a database driver.
 */
export interface StorageChoice {
  readonly postgresUrl: string | undefined
  readonly postgresSchema: string | undefined
}

/** The shape of `@quire/postgres` the CLI uses (declared here: the server does not depend on it). */
interface PostgresModule {
  createPostgresStorage(options: { connectionString: string; schema?: string; log?: Log }): Promise<Storage>
}

/** The PostgreSQL URL from a flag, else from the environment. */
export function postgresUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const url = flag ?? env['QUIRE_POSTGRES_URL']
  return url === '' ? undefined : url
}

/** Opens PostgreSQL storage as chosen; null when the choice is LevelDB (the server opens that itself). */
export async function openPostgresStorage(choice: StorageChoice, log: Log): Promise<Storage | null> {
  if (choice.postgresUrl === undefined) return null
  const specifier = '@quire/postgres'
  let postgres: PostgresModule
  try {
    postgres = (await import(specifier)) as PostgresModule
  } catch (error) {
    throw new Error(`--postgres needs the @quire/postgres package next to @quire/server (npm install @quire/postgres)`, { cause: error })
  }
  return postgres.createPostgresStorage({
    connectionString: choice.postgresUrl,
    ...(choice.postgresSchema === undefined ? {} : { schema: choice.postgresSchema }),
    log
  })
}

/** A PostgreSQL or Redis URL fit for a log line: the password replaced. */
export function describeServiceUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(an unparsable URL)'
  }
}
