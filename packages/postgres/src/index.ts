export { createPostgresStorage } from './postgres-storage.js'
export type { PostgresStorageOptions } from './postgres-storage.js'
export { SCHEMA_VERSION } from './postgres-schema.js'
