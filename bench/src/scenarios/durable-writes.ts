import type { Scenario } from '../bench-context.js'
export const durableWritesScenario: Scenario = { name: 'durable-writes', description: 'todo', run: async () => [] }
