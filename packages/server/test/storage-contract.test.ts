import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createLevelStorage, createMemoryStorage, type Storage } from '@quire/server'
import { describeStorageContract } from '@quire/testkit'

describeStorageContract('memory', { create: async () => createMemoryStorage() })

const dirs: string[] = []
const paths = new WeakMap<Storage, string>()
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

describeStorageContract('LevelDB', {
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'quire-storage-'))
    dirs.push(dir)
    const storage = await createLevelStorage(dir)
    paths.set(storage, dir)
    return storage
  },
  async reopen(storage) {
    const dir = paths.get(storage)!
    await storage.close()
    const reopened = await createLevelStorage(dir)
    paths.set(reopened, dir)
    return reopened
  }
})
