import { isDeepStrictEqual } from 'node:util'
import * as Y from 'yjs'

/**
 * The convergence oracle: are these replicas the same document?
 *
 * Equal JSON alone is too weak (two replicas can print the same text while one still
 * misses a deletion of an already-deleted range, or holds structs the other lacks), and
 * equal encoded bytes are too strong (replicas split items differently depending on the
 * order they saw edits in). So the oracle compares, in order:
 *   1. no replica is waiting on missing updates (pending structs or delete sets);
 *   2. state vectors (which structs each replica has);
 *   3. delete sets, normalised through `Y.snapshot` (which of them are deleted);
 *   4. the JSON of every root type;
 *   5. encoded state, by re-applying: each replica's `encodeStateAsUpdate` rebuilds a fresh
 *      doc with the same JSON, and applying the first replica's state to it changes nothing.
 */

export type RootTypeKind = 'text' | 'map' | 'array' | 'xml'

export interface ConvergenceOptions {
  /** Names for the replicas in failure messages (default `doc[i]`). */
  readonly names?: readonly string[]
  /**
   * How to read root types no replica has declared (they arrive as untyped shares);
   * by default the kind is inferred from the content.
   */
  readonly types?: Readonly<Record<string, RootTypeKind>>
}

type RootConstructor = typeof Y.Text | typeof Y.Map | typeof Y.Array | typeof Y.XmlFragment

const constructorOfKind: Readonly<Record<RootTypeKind, RootConstructor>> = {
  text: Y.Text,
  map: Y.Map,
  array: Y.Array,
  xml: Y.XmlFragment
}

/** Throws an Error describing the first difference when the replicas have not converged. */
export function assertConverged(docs: readonly Y.Doc[], options: ConvergenceOptions = {}): void {
  const divergence = findDivergence(docs, options)
  if (divergence !== null) throw new Error(`replicas have not converged: ${divergence}`)
}

/** The first difference between the replicas, or null when they have converged. Use it to poll. */
export function findDivergence(docs: readonly Y.Doc[], options: ConvergenceOptions = {}): string | null {
  if (docs.length === 0) return null
  const nameOf = (i: number): string => options.names?.[i] ?? `doc[${i}]`

  for (let i = 0; i < docs.length; i++) {
    const store = (docs[i] as Y.Doc).store
    if (store.pendingStructs !== null || store.pendingDs !== null) {
      return `${nameOf(i)} holds pending updates that wait for missing ones`
    }
  }

  const vectors = docs.map((doc) => describeStateVector(Y.encodeStateVector(doc)))
  for (let i = 1; i < docs.length; i++) {
    if (!isDeepStrictEqual(vectors[i], vectors[0])) {
      return `state vectors differ: ${nameOf(0)} ${JSON.stringify(vectors[0])} vs ${nameOf(i)} ${JSON.stringify(vectors[i])}`
    }
  }

  const snapshots = docs.map((doc) => Y.snapshot(doc))
  for (let i = 1; i < docs.length; i++) {
    if (!Y.equalSnapshots(snapshots[0] as Y.Snapshot, snapshots[i] as Y.Snapshot)) {
      return `delete sets differ between ${nameOf(0)} and ${nameOf(i)}`
    }
  }

  const rootNames = [...new Set(docs.flatMap((doc) => [...doc.share.keys()]))].sort()
  const constructors = new Map(rootNames.map((name) => [name, resolveRootConstructor(docs, name, options.types?.[name])]))
  const jsonOf = (doc: Y.Doc): Record<string, unknown> =>
    Object.fromEntries(rootNames.map((name) => [name, doc.get(name, constructors.get(name)).toJSON()]))

  const reference = jsonOf(docs[0] as Y.Doc)
  for (let i = 1; i < docs.length; i++) {
    const json = jsonOf(docs[i] as Y.Doc)
    const differing = rootNames.find((name) => !isDeepStrictEqual(json[name], reference[name]))
    if (differing !== undefined) {
      return `root "${differing}" differs: ${nameOf(0)} ${preview(reference[differing])} vs ${nameOf(i)} ${preview(json[differing])}`
    }
  }

  const referenceState = Y.encodeStateAsUpdate(docs[0] as Y.Doc)
  for (let i = 0; i < docs.length; i++) {
    const rebuilt = docFromUpdates([Y.encodeStateAsUpdate(docs[i] as Y.Doc)])
    const rebuiltJson = jsonOf(rebuilt)
    if (!isDeepStrictEqual(rebuiltJson, reference)) {
      return `${nameOf(i)} rebuilt from its encoded state differs from ${nameOf(0)}: ${preview(rebuiltJson)}`
    }
    const before = Y.snapshot(rebuilt)
    Y.applyUpdate(rebuilt, referenceState)
    if (!Y.equalSnapshots(before, Y.snapshot(rebuilt)) || !isDeepStrictEqual(jsonOf(rebuilt), reference)) {
      return `${nameOf(0)}'s encoded state adds content to ${nameOf(i)}'s`
    }
  }
  return null
}

/** A replica rebuilt from a stored log of updates, as a new client or a restarted server would see it. */
export function docFromUpdates(updates: readonly Uint8Array[], options: { gc?: boolean } = {}): Y.Doc {
  const doc = new Y.Doc({ gc: options.gc ?? true })
  Y.transact(doc, () => {
    for (const update of updates) Y.applyUpdate(doc, update)
  })
  return doc
}

function describeStateVector(encoded: Uint8Array): Record<string, number> {
  const entries = [...Y.decodeStateVector(encoded).entries()].filter(([, clock]) => clock > 0)
  entries.sort(([a], [b]) => a - b)
  return Object.fromEntries(entries.map(([client, clock]) => [String(client), clock]))
}

/**
 * The constructor to read a root type with: an explicit kind, else the one some replica
 * declared, else a guess from its content (a root that no replica declared is untyped).
 */
function resolveRootConstructor(docs: readonly Y.Doc[], name: string, kind: RootTypeKind | undefined): RootConstructor {
  if (kind !== undefined) return constructorOfKind[kind]
  for (const doc of docs) {
    const type = doc.share.get(name)
    if (type instanceof Y.Text || type instanceof Y.Map || type instanceof Y.Array || type instanceof Y.XmlFragment) {
      return type.constructor as RootConstructor
    }
  }
  for (const doc of docs) {
    const type = doc.share.get(name)
    if (type === undefined) continue
    for (let item = type._start; item !== null; item = item.right) {
      if (item.deleted) continue
      const content = item.content
      if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) return Y.Text
      if (content instanceof Y.ContentType) {
        const child = content.type
        return child instanceof Y.XmlElement || child instanceof Y.XmlText || child instanceof Y.XmlHook ? Y.XmlFragment : Y.Array
      }
      return Y.Array
    }
    if (type._map.size > 0) return Y.Map
  }
  return Y.Array
}

function preview(value: unknown): string {
  const json = JSON.stringify(value) ?? 'undefined'
  return json.length > 300 ? `${json.slice(0, 300)}…(${json.length} chars)` : json
}
