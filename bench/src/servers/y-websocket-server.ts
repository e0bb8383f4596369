import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createBenchClient } from '../bench-client.js'
import { profileNodeOptions, type ServerKind } from '../server-kind.js'
import { findFreePort, spawnPinnedServer } from '../server-process.js'
import { encodeTextInsert } from '../text-insert.js'

const require = createRequire(import.meta.url)
const PROBE_TIMEOUT_MS = 3000

/**
 * The current reference server, `@y/websocket-server` from npm, started through
 * its own bin (`src/server.js`), without persistence (its default).
 *
 * 0.1.5 imports `yjs` 14 RC while its `@y/protocols` imports `@y/y` 14 RC, and
 * as installed the two builds disagree (`store.getClock is not a function`), so
 * it applies no update at all. `prepare` probes it and, if it cannot relay,
 * substitutes 0.1.1 (yjs 13), the newest release that works, saying so in the
 * label.
 */
function createKind(packageName: string, label: string): ServerKind {
  return {
    id: 'y-websocket-server',
    label,
    dialect: 'y-websocket',
    persistent: false,
    acknowledgements: false,
    unavailable: () => undefined,
    start: async (options) => {
      const port = options.port ?? (await findFreePort())
      const packageDir = dirname(require.resolve(`${packageName}/package.json`))
      return await spawnPinnedServer({
        args: [join(packageDir, 'src/server.js')],
        env: { HOST: '127.0.0.1', PORT: String(port) },
        nodeOptions: profileNodeOptions(options),
        port,
        ready: /running at/
      })
    }
  }
}

async function relaysUpdates(kind: ServerKind, workDir: string): Promise<boolean> {
  const server = await kind.start({ dataDir: mkdtempSync(join(workDir, 'probe-')) })
  try {
    let delivered = false
    const sender = createBenchClient({ baseUrl: server.url, room: 'probe', dialect: 'y-websocket' })
    const receiver = createBenchClient({
      baseUrl: server.url,
      room: 'probe',
      dialect: 'y-websocket',
      onUpdate: (_update, subtype) => {
        if (subtype === 2) delivered = true
      }
    })
    await Promise.all([sender.ready, receiver.ready])
    sender.sendUpdate(encodeTextInsert(42, 0, 'probe'))
    const deadline = Date.now() + PROBE_TIMEOUT_MS
    while (!delivered && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    await Promise.all([sender.close(), receiver.close()])
    return delivered
  } finally {
    await server.stop()
  }
}

const latest = createKind('@y/websocket-server', '@y/websocket-server 0.1.5')

export const yWebsocketServer: ServerKind = {
  ...latest,
  prepare: async (workDir) => {
    if (await relaysUpdates(latest, workDir)) return latest
    return {
      ...createKind('y-websocket-server-0-1-1', '@y/websocket-server 0.1.1*'),
      note:
        '*@y/websocket-server 0.1.1 stands in for 0.1.5: as installed, 0.1.5 applies no update (its `yjs` and `@y/protocols` pull two yjs 14 RCs that disagree: "store.getClock is not a function").'
    }
  }
}
