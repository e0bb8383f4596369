import type { NewVersion, RebasedVersion, VersionInfo, VersionStore } from './version-store.js'

interface StoredVersion {
  info: VersionInfo
  update: Uint8Array
}

/** The memory store's version histories; `forget` is called by its `delete`. */
export interface MemoryVersions extends VersionStore {
  forget(doc: string): void
}

export function createMemoryVersions(): MemoryVersions {
  const docs = new Map<string, StoredVersion[]>()
  let lastId = 0
  return {
    async add(doc: string, version: NewVersion): Promise<VersionInfo> {
      const { update, ...meta } = version
      const info: VersionInfo = { ...meta, authors: [...meta.authors], id: ++lastId, bytes: update.byteLength }
      let versions = docs.get(doc)
      if (!versions) docs.set(doc, (versions = []))
      versions.push({ info, update: update.slice() })
      return info
    },
    async list(doc: string): Promise<VersionInfo[]> {
      return (docs.get(doc) ?? []).map((v) => v.info)
    },
    async read(doc: string, ids: readonly number[]): Promise<Array<Uint8Array | null>> {
      const versions = docs.get(doc) ?? []
      return ids.map((id) => versions.find((v) => v.info.id === id)?.update ?? null)
    },
    async thin(doc: string, remove: readonly number[], rebase: readonly RebasedVersion[]): Promise<void> {
      const versions = docs.get(doc)
      if (!versions) return
      const removed = new Set(remove)
      const kept = versions.filter((v) => !removed.has(v.info.id))
      for (const { id, base, update } of rebase) {
        const version = kept.find((v) => v.info.id === id)
        if (!version) continue
        version.info = { ...version.info, base, bytes: update.byteLength }
        version.update = update.slice()
      }
      docs.set(doc, kept)
    },
    forget(doc: string): void {
      docs.delete(doc)
    }
  }
}
