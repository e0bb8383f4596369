import type { Scenario } from '../bench-context.js'
export const coldLoadScenario: Scenario = { name: 'cold-load', description: 'todo', run: async () => [] }
