import type { RunningServer } from './server-process.js'

/**
 * How a load-generator client talks to a server:
 * - `y-websocket`: y-websocket framing, sync handshake (step 1 -> step 2).
 * - `hocuspocus`: every message prefixed with the document name, plus an auth
 *   message before the sync handshake.
 * - `relay`: y-websocket framing, but nobody answers the handshake.
 */
export type Dialect = 'y-websocket' | 'hocuspocus' | 'relay'

export interface StartOptions {
  /** A fresh or reused directory for the server's persistence, if it has one. */
  dataDir: string
  /** When set, the server runs with --cpu-prof writing profiles here. */
  profileDir?: string
  /**
   * Listen on this port of 127.0.0.1; a free one when unset. A scenario that kills a
   * server and starts it again gives the port it had, so its clients find it again.
   */
  port?: number
}

export interface ServerKind {
  id: string
  label: string
  dialect: Dialect
  /** Whether documents survive a restart (needed by the cold-load scenario). */
  persistent: boolean
  /**
   * How long after the last change the server may still put off writing it (a
   * debounced store); a scenario that restarts the server waits at least this long
   * after an upload, and then until the server is idle.
   */
  deferredWriteMs?: number
  /**
   * The scenarios that measure this server when `--servers` does not name it; all when
   * unset. A variant that differs from another kind only where one scenario looks (a
   * persistence extension) stays out of the long runs that would measure the same
   * server twice.
   */
  defaultScenarios?: string[]
  /**
   * A lower bound written for this bench (the raw relay, the storm's protocol floor), not
   * a server people would pick: tables read Quire against it, and a target that names
   * "the other servers" never counts it among them.
   */
  floor?: boolean
  /** Printed under every table: a stand-in for the server the issue names, or a non-default setting, and why. */
  note?: string
  /**
   * Where the server serves Prometheus metrics on its own port, if it does: the
   * side-by-side fan-out scrapes it as an operator's Prometheus would.
   */
  metricsPath?: string
  /** Whether the server speaks the Quire acknowledgement extension. */
  acknowledgements: boolean
  /** Undefined when the server can run here; otherwise why it cannot. */
  unavailable(): string | undefined
  start(options: StartOptions): Promise<RunningServer>
  /**
   * Checks once per run that this build of the server works here and returns
   * the kind to use, possibly a substitute whose label says so.
   */
  prepare?(workDir: string): Promise<ServerKind>
}

export function profileNodeOptions(options: StartOptions): string[] {
  return options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : []
}
