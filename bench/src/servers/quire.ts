import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { profileNodeOptions, type ServerKind } from '../server-kind.js'
import { spawnPinnedServer } from '../server-process.js'

/**
 * `quire serve` with its default LevelDB storage, as a user starts it, except
 * for the per-address and per-connection rate limits: every simulated user of
 * the load generator comes from 127.0.0.1 and the upload of the editing trace
 * comes over one socket, which the defaults (512 connections and 16 new ones per
 * second per address, 200 messages/s per connection) would rightly refuse. The
 * other servers have no such limits.
 */
const BENCH_LIMITS = [
  '--max-connections-per-ip', '100000',
  '--max-new-connections-per-second-per-ip', '100000',
  '--max-connections', '100000',
  '--max-rooms', '100000',
  '--max-messages-per-second', '10000000',
  '--max-bytes-per-second', '10000000000'
]
export const quireServer: ServerKind = quireServerAt(fileURLToPath(new URL('../../../', import.meta.url)), { id: 'quire', label: 'Quire' })

const BASELINE_ENV = 'QUIRE_BENCH_BASELINE'
/** Node or V8 flags for the baseline's process only, space-separated: an A/B of a runtime flag (`QUIRE_BENCH_BASELINE=.`). */
const BASELINE_NODE_FLAGS_ENV = 'QUIRE_BENCH_BASELINE_NODE_FLAGS'
/** `quire serve` flags for the baseline's process only, space-separated: an A/B of a setting (`QUIRE_BENCH_BASELINE=.`). */
const BASELINE_ARGS_ENV = 'QUIRE_BENCH_BASELINE_ARGS'

/**
 * Quire as built in another checkout, for A/B runs of a change: `git worktree add
 * ../quire-base <commit>`, install and build there, then
 * `QUIRE_BENCH_BASELINE=../quire-base pnpm bench --servers quire,quire-baseline`. The
 * bench interleaves the two like any other servers, so the "Quire / this" ratio is the
 * change's effect in one run. Only run when named in --servers. A runtime flag is compared
 * the same way against this very checkout: `QUIRE_BENCH_BASELINE=.
 * QUIRE_BENCH_BASELINE_NODE_FLAGS=--single-threaded-gc pnpm bench ...`, and a setting of the
 * CLI with `QUIRE_BENCH_BASELINE_ARGS="--compact-after 5000"`.
 */
export const quireBaselineServer: ServerKind = {
  ...quireServerAt(
    baselineRoot() ?? '.',
    { id: 'quire-baseline', label: `Quire baseline (${[process.env[BASELINE_ENV] ?? 'unset', process.env[BASELINE_NODE_FLAGS_ENV] ?? '', process.env[BASELINE_ARGS_ENV] ?? ''].join(' ').trim()})` },
    undefined,
    (process.env[BASELINE_ARGS_ENV] ?? '').split(/\s+/).filter((flag) => flag !== ''),
    (process.env[BASELINE_NODE_FLAGS_ENV] ?? '').split(/\s+/).filter((flag) => flag !== '')
  ),
  defaultScenarios: [],
  unavailable: () => {
    const root = baselineRoot()
    if (root === undefined) return `set ${BASELINE_ENV} to the directory of another Quire checkout, built (e.g. a git worktree of the commit to compare against)`
    return builtAt(root)
  }
}

/** QUIRE_BENCH_BASELINE's checkout, as the scale-out configurations use it. */
export interface BaselineCheckout {
  readonly root: string
  /** How it was given, for labels. */
  readonly name: string
  /** Why it cannot run (unset, not built), as for quire-baseline. */
  unavailable(): string | undefined
}

export function baselineCheckout(): BaselineCheckout {
  return { root: baselineRoot() ?? '.', name: process.env[BASELINE_ENV] ?? 'unset', unavailable: quireBaselineServer.unavailable }
}

/** The baseline checkout, relative to where `pnpm bench` was typed (pnpm runs the script in bench/). */
function baselineRoot(): string | undefined {
  const given = process.env[BASELINE_ENV]
  return given === undefined ? undefined : resolve(process.env['INIT_CWD'] ?? process.cwd(), given)
}

function builtAt(root: string): string | undefined {
  return existsSync(join(root, 'packages/server/bin/quire.js')) && existsSync(join(root, 'packages/server/dist/cli'))
    ? undefined
    : `packages/server is not built in ${root}. Run \`pnpm build\` there (or \`pnpm --filter @quire/protocol --filter @quire/server build\`), then run the bench again.`
}

/** Where a started clone keeps documents besides its data directory: extra flags, and what to remove after. */
export interface QuireStorageFlags {
  readonly args: readonly string[]
  release(): Promise<void>
}

/**
 * Quire with `--no-metrics`: nothing counted, no /metrics. Beside the default (metrics
 * on) in the fan-out tables, its row is what metrics cost per delivery, measured in the
 * same run (target: under 5%). Only in the fan-out scenario unless --servers names it.
 */
export const quireNoMetricsServer: ServerKind = {
  ...quireServerAt(fileURLToPath(new URL('../../../', import.meta.url)), { id: 'quire-no-metrics', label: 'Quire, metrics off' }, undefined, ['--no-metrics']),
  defaultScenarios: ['fanout'],
  note: 'Quire, metrics off: the same server with --no-metrics (Quire itself runs with its metrics on, the default); rate limits raised as for Quire.'
}

/**
 * `quire serve` of the checkout at `root`; `storage` gives each start its own store other
 * than LevelDB; `extraArgs` are flags of this checkout's CLI (a variant's setting), `nodeFlags`
 * flags of the node process that runs it.
 */
export function quireServerAt(
  root: string,
  names: { id: string; label: string },
  storage?: () => Promise<QuireStorageFlags>,
  extraArgs: readonly string[] = [],
  nodeFlags: readonly string[] = []
): ServerKind {
  const cli = join(root, 'packages/server/bin/quire.js')
  return {
    ...names,
    dialect: 'y-websocket',
    persistent: true,
    acknowledgements: true,
    // Also with --no-metrics, which answers 404 there: both sides of an A/B get the request.
    metricsPath: '/metrics',
    note: 'Quire runs with its per-address and per-connection rate limits raised (all simulated users share 127.0.0.1); everything else is the default, fsync on.',
    unavailable: () => builtAt(root),
    start: async (options) => {
      const store = storage ? await storage() : null
      const server = await spawnPinnedServer({
        args: [cli, 'serve', '--host', '127.0.0.1', '--port', String(options.port ?? 0), '--data', options.dataDir, ...benchLimitsKnownTo(cli), ...extraArgs, ...(store?.args ?? [])],
        nodeOptions: [...nodeFlags, ...profileNodeOptions(options)],
        ready: /quire listening on http:\/\/127\.0\.0\.1:(\d+)/
      }).catch(async (error: unknown) => {
        await store?.release()
        throw error
      })
      if (store === null) return server
      return { ...server, stop: () => server.stop().then(() => store.release()) }
    }
  }
}

/**
 * BENCH_LIMITS less the flags `cli` does not know: a baseline checkout built before a
 * limit existed has nothing to raise, and would refuse the flag and not start.
 */
function benchLimitsKnownTo(cli: string): string[] {
  const help = execFileSync(process.execPath, [cli, 'help'], { encoding: 'utf8' })
  const known: string[] = []
  for (let i = 0; i + 1 < BENCH_LIMITS.length; i += 2) {
    const flag = BENCH_LIMITS[i] as string
    if (new RegExp(`${flag}(\\s|$)`, 'm').test(help)) known.push(flag, BENCH_LIMITS[i + 1] as string)
  }
  return known
}
