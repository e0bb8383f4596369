export { createPrng, reproLine, readSeeds, isExtensiveRun, runWithSeed } from './prng.js'
export type { Prng } from './prng.js'
export { assertConverged, findDivergence, docFromUpdates } from './convergence-oracle.js'
export type { ConvergenceOptions, RootTypeKind } from './convergence-oracle.js'
