import { createScriptServer } from './script-server.js'

/**
 * Hocuspocus 4 with its defaults (no extensions, so no persistence). It is a
 * library, so a six-line script starts it; see server-scripts/hocuspocus.mjs.
 * The cold load measures Hocuspocus with SQLite instead (below), whose warm load
 * is this one's.
 */
export const hocuspocusServer = createScriptServer({
  id: 'hocuspocus',
  label: 'Hocuspocus 4',
  dialect: 'hocuspocus',
  script: 'hocuspocus.mjs',
  defaultScenarios: ['fanout', 'memory', 'idle', 'durable']
})

/**
 * Hocuspocus 4 with `@hocuspocus/extension-sqlite` (better-sqlite3), the persistence
 * its documentation offers first; see server-scripts/hocuspocus-sqlite.mjs. It stores
 * the whole document (Y.encodeStateAsUpdate) debounced: 2 s after the last change,
 * at most 10 s after the first unsaved one, and at once when the last client leaves
 * or on SIGTERM. By default it takes part in the cold load and the reconnect storm
 * (documents come back from its storage after a kill): elsewhere it would measure plain
 * Hocuspocus again, at the cost of minutes of the run.
 */
export const hocuspocusSqliteServer = createScriptServer({
  id: 'hocuspocus-sqlite',
  label: 'Hocuspocus 4 + SQLite',
  dialect: 'hocuspocus',
  script: 'hocuspocus-sqlite.mjs',
  databaseFile: 'hocuspocus.sqlite',
  deferredWriteMs: 2000,
  defaultScenarios: ['cold-load', 'storm']
})
