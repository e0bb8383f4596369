import type { Scenario } from '../bench-context.js'
export const memoryPerDocumentScenario: Scenario = { name: 'memory-per-document', description: 'todo', run: async () => [] }
