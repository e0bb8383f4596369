import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { profileNodeOptions, type ServerKind } from '../server-kind.js'
import { spawnPinnedServer } from '../server-process.js'

const CLI = fileURLToPath(new URL('../../../packages/server/bin/quire.js', import.meta.url))
const BUILT_CLI = fileURLToPath(new URL('../../../packages/server/dist/cli', import.meta.url))

/**
 * `quire serve` with its default LevelDB storage, as a user starts it, except
 * for the per-address and per-connection rate limits: every simulated user of
 * the load generator comes from 127.0.0.1 and the upload of the editing trace
 * comes over one socket, which the defaults (64 connections per address, 200
 * messages/s per connection) would rightly refuse. The other servers have no
 * such limits.
 */
const BENCH_LIMITS = [
  '--max-connections-per-ip', '100000',
  '--max-connections', '100000',
  '--max-rooms', '100000',
  '--max-messages-per-second', '10000000',
  '--max-bytes-per-second', '10000000000'
]
export const quireServer: ServerKind = {
  id: 'quire',
  label: 'Quire',
  dialect: 'y-websocket',
  persistent: true,
  acknowledgements: true,
  note: 'Quire runs with its per-address and per-connection rate limits raised (all simulated users share 127.0.0.1); everything else is the default, fsync on.',
  unavailable: () =>
    existsSync(CLI) && existsSync(BUILT_CLI)
      ? undefined
      : 'packages/server is not built. Run `pnpm build` at the repository root (or `pnpm --filter @quire/protocol --filter @quire/server build`), then run the bench again.',
  start: async (options) =>
    await spawnPinnedServer({
      args: [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', options.dataDir, ...BENCH_LIMITS],
      nodeOptions: profileNodeOptions(options),
      ready: /quire listening on http:\/\/127\.0\.0\.1:(\d+)/
    })
}
