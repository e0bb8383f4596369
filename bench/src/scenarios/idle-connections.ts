import type { Scenario } from '../bench-context.js'
export const idleConnectionsScenario: Scenario = { name: 'idle-connections', description: 'todo', run: async () => [] }
