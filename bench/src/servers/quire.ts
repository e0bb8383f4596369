import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { profileNodeOptions, type ServerKind } from '../server-kind.js'
import { spawnPinnedServer } from '../server-process.js'

const CLI = fileURLToPath(new URL('../../../packages/server/bin/quire.js', import.meta.url))
const BUILT_CLI = fileURLToPath(new URL('../../../packages/server/dist/cli', import.meta.url))

/** `quire serve` with its default LevelDB storage, exactly as a user starts it. */
export const quireServer: ServerKind = {
  id: 'quire',
  label: 'Quire',
  dialect: 'y-websocket',
  persistent: true,
  acknowledgements: true,
  unavailable: () =>
    existsSync(CLI) && existsSync(BUILT_CLI)
      ? undefined
      : 'packages/server is not built (run `pnpm --filter @quire/protocol --filter @quire/server build`)',
  start: async (options) =>
    await spawnPinnedServer({
      args: [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', options.dataDir],
      nodeOptions: profileNodeOptions(options),
      ready: /quire listening on http:\/\/127\.0\.0\.1:(\d+)/
    })
}
