import { afterAll } from 'vitest'
import type { Storage } from '@quire/server'
import { createTestSchema, describeStorageContract, type TestSchema } from '@quire/testkit'
import { createPostgresStorage } from '@quire/postgres'

const schemas: TestSchema[] = []
const urls = new WeakMap<Storage, string>()
afterAll(async () => {
  await Promise.all(schemas.map((schema) => schema.drop()))
})

describeStorageContract('PostgreSQL', {
  async create() {
    const schema = await createTestSchema('contract')
    schemas.push(schema)
    const storage = await createPostgresStorage({ connectionString: schema.url })
    urls.set(storage, schema.url)
    return storage
  },
  async reopen(storage) {
    const url = urls.get(storage)!
    await storage.close()
    const reopened = await createPostgresStorage({ connectionString: url })
    urls.set(reopened, url)
    return reopened
  },
  async openSecond(storage) {
    return createPostgresStorage({ connectionString: urls.get(storage)! })
  }
})
