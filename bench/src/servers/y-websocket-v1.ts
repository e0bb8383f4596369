import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { profileNodeOptions, type ServerKind } from '../server-kind.js'
import { findFreePort, spawnPinnedServer } from '../server-process.js'

const require = createRequire(import.meta.url)

/**
 * The classic `y-websocket@1.5.x` `bin/server.js` with y-leveldb persistence
 * (`YPERSISTENCE=<dir>`): what most deployments run. Not in the reconnect storm unless
 * named: the issue compares with @y/websocket-server and Hocuspocus there.
 */
export const yWebsocketV1Server: ServerKind = {
  id: 'y-websocket-v1',
  label: 'y-websocket 1.5 + LevelDB',
  dialect: 'y-websocket',
  persistent: true,
  acknowledgements: false,
  defaultScenarios: ['fanout', 'memory', 'cold-load', 'idle', 'durable'],
  unavailable: () => undefined,
  start: async (options) => {
    const port = options.port ?? (await findFreePort())
    const packageDir = dirname(require.resolve('y-websocket-v1/package.json'))
    return await spawnPinnedServer({
      args: [join(packageDir, 'bin/server.js')],
      env: { HOST: '127.0.0.1', PORT: String(port), YPERSISTENCE: options.dataDir },
      nodeOptions: profileNodeOptions(options),
      port,
      ready: /running at/
    })
  }
}
