import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { profileNodeOptions, type ServerKind } from '../server-kind.js'
import { spawnPinnedServer } from '../server-process.js'

/**
 * A server started by a small script in server-scripts/ that prints
 * `listening on <port>`; no acknowledgements. A script with persistence gets the
 * path of its database file (`<dataDir>/<databaseFile>`) as its first argument. It
 * listens on `PORT` from its environment (0, a free port, when unset).
 */
export function createScriptServer(
  kind: Pick<ServerKind, 'id' | 'label' | 'dialect' | 'deferredWriteMs' | 'defaultScenarios' | 'floor'> & { script: string; databaseFile?: string }
): ServerKind {
  const script = fileURLToPath(new URL(`../../server-scripts/${kind.script}`, import.meta.url))
  const { databaseFile } = kind
  return {
    id: kind.id,
    label: kind.label,
    dialect: kind.dialect,
    persistent: databaseFile !== undefined,
    deferredWriteMs: kind.deferredWriteMs,
    defaultScenarios: kind.defaultScenarios,
    floor: kind.floor,
    acknowledgements: false,
    unavailable: () => undefined,
    start: async (options) =>
      await spawnPinnedServer({
        args: databaseFile === undefined ? [script] : [script, join(options.dataDir, databaseFile)],
        env: { PORT: String(options.port ?? 0) },
        nodeOptions: profileNodeOptions(options),
        ready: /listening on (\d+)/
      })
  }
}
