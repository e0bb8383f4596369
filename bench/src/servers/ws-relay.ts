import { fileURLToPath } from 'node:url'
import { profileNodeOptions, type ServerKind } from '../server-kind.js'
import { spawnPinnedServer } from '../server-process.js'

const SCRIPT = fileURLToPath(new URL('../../server-scripts/ws-relay.mjs', import.meta.url))

/**
 * A `ws` server that relays every frame to the other sockets of its room and
 * does no Yjs work at all: the practical ceiling of this machine.
 */
export const wsRelayServer: ServerKind = {
  id: 'ws-relay',
  label: 'raw ws relay',
  dialect: 'relay',
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
