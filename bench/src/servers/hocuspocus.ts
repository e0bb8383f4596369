import { createScriptServer } from './script-server.js'

/**
 * Hocuspocus 4 with its defaults (no extensions, so no persistence). It is a
 * library, so a six-line script starts it; see server-scripts/hocuspocus.mjs.
 */
export const hocuspocusServer = createScriptServer({
  id: 'hocuspocus',
  label: 'Hocuspocus 4',
  dialect: 'hocuspocus',
  script: 'hocuspocus.mjs'
})
