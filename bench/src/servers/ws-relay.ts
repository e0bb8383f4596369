import { createScriptServer } from './script-server.js'

/**
 * A `ws` server that relays every frame to the other sockets of its room and
 * does no Yjs work at all: the practical ceiling of this machine.
 */
export const wsRelayServer = createScriptServer({
  id: 'ws-relay',
  label: 'raw ws relay',
  dialect: 'relay',
  script: 'ws-relay.mjs',
  floor: true,
  // It keeps no document, so there is nothing to load.
  defaultScenarios: ['fanout', 'memory', 'idle', 'durable']
})
