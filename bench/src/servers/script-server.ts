import { fileURLToPath } from 'node:url'
import { profileNodeOptions, type ServerKind } from '../server-kind.js'
import { spawnPinnedServer } from '../server-process.js'

/**
 * A server started by a small script in server-scripts/ that prints
 * `listening on <port>`; no persistence, no acknowledgements.
 */
export function createScriptServer(kind: Pick<ServerKind, 'id' | 'label' | 'dialect'> & { script: string }): ServerKind {
  const script = fileURLToPath(new URL(`../../server-scripts/${kind.script}`, import.meta.url))
  return {
    id: kind.id,
    label: kind.label,
    dialect: kind.dialect,
    persistent: false,
    acknowledgements: false,
    unavailable: () => undefined,
    start: async (options) =>
      await spawnPinnedServer({
        args: [script],
        nodeOptions: profileNodeOptions(options),
        ready: /listening on (\d+)/
      })
  }
}
