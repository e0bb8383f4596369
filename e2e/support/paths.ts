import { fileURLToPath } from 'node:url'

export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url))
export const demoDistDir = fileURLToPath(new URL('../../demo/dist', import.meta.url))
export const quireCliPath = fileURLToPath(new URL('../../packages/server/bin/quire.js', import.meta.url))
/** What `bin/quire.js` imports: absent until `@quire/server` is built. */
export const quireCliBuildPath = fileURLToPath(new URL('../../packages/server/dist/cli/index.js', import.meta.url))
export const artifactsDir = fileURLToPath(new URL('../artifacts', import.meta.url))
/** What `quire serve --postgres --redis` imports, and the test reads PostgreSQL with: absent until built. */
export const scaleOutBuildPaths = [
  fileURLToPath(new URL('../../packages/postgres/dist/index.js', import.meta.url)),
  fileURLToPath(new URL('../../packages/redis/dist/index.js', import.meta.url))
]
