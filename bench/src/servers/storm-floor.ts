import { createScriptServer } from './script-server.js'

/**
 * The reconnect storm's protocol floor (`server-scripts/storm-floor.mjs`): a `ws` server
 * that does per reconnecting client only what no correct y-websocket server can skip
 * (answer sync step 1 with the stored document, send its own sync step 1 and the room's
 * presence, relay presence), from one stored update per document. What it reaches is what
 * a Node server on `ws` can reach in the storm on this machine, whatever else it does.
 */
export const stormFloorServer = createScriptServer({
  id: 'storm-floor',
  label: 'protocol floor (ws)',
  dialect: 'y-websocket',
  script: 'storm-floor.mjs',
  databaseFile: 'floor',
  floor: true,
  // Made for the storm; elsewhere the raw relay is the floor.
  defaultScenarios: ['storm']
})
