import { fileURLToPath } from 'node:url'
import { profileNodeOptions, type ServerKind } from '../server-kind.js'
import { spawnPinnedServer } from '../server-process.js'

const SCRIPT = fileURLToPath(new URL('../../server-scripts/hocuspocus.mjs', import.meta.url))

/**
 * Hocuspocus 4 with its defaults (no extensions, so no persistence). It is a
 * library, so a six-line script starts it; see server-scripts/hocuspocus.mjs.
 */
export const hocuspocusServer: ServerKind = {
  id: 'hocuspocus',
  label: 'Hocuspocus 4',
  dialect: 'hocuspocus',
  persistent: false,
  acknowledgements: false,
  unavailable: () => undefined,
  start: async (options) =>
    await spawnPinnedServer({
      args: [SCRIPT],
      nodeOptions: profileNodeOptions(options),
      ready: /listening on (\d+)/
    })
}
