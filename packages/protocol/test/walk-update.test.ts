import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { inspectUpdate } from '@quire/protocol'
import { seeded } from './seeded.js'

/**
 * Differential: `inspectUpdate` walks updates itself instead of calling `Y.decodeUpdate`,
 * so it must accept and reject exactly what the reference does (Y.decodeUpdate plus the
 * same structural checks on the objects it builds), and report the same clock ranges,
 * on real updates of every content kind and on thousands of mutations of them.
 */

interface ReferenceMeta {
  from: Map<number, number>
  to: Map<number, number>
  hasDeletes: boolean
  joinableStructs: number
}

function reference(update: Uint8Array): ReferenceMeta | null {
  if (update.length === 0) return null
  try {
    const { structs, ds } = Y.decodeUpdate(update)
    const from = new Map<number, number>()
    const to = new Map<number, number>()
    let joinableStructs = 0
    let previous: (typeof structs)[number] | undefined
    for (const struct of structs) {
      const { client, clock } = struct.id
      if (!Number.isSafeInteger(client)) return null
      if (isJoinable(previous, struct)) joinableStructs++
      previous = struct
      if (!(struct.length >= 0) || !Number.isSafeInteger(clock) || !Number.isSafeInteger(clock + struct.length)) return null
      if (struct instanceof Y.Item) {
        const parent: unknown = struct.parent
        for (const ref of [struct.origin, struct.rightOrigin, parent instanceof Y.ID ? parent : null]) {
          if (ref !== null && ref.client === client && ref.clock >= clock) return null
        }
      }
      if (clock < (from.get(client) ?? Number.POSITIVE_INFINITY)) from.set(client, clock)
      if (clock + struct.length > (to.get(client) ?? 0)) to.set(client, clock + struct.length)
    }
    for (const [client, ranges] of ds.clients) {
      if (!Number.isSafeInteger(client)) return null
      let end = 0
      for (const range of ranges) {
        if (!(range.len > 0) || !Number.isSafeInteger(range.clock + range.len) || range.clock < end) return null
        end = range.clock + range.len
      }
    }
    return { from, to, hasDeletes: ds.clients.size > 0, joinableStructs }
  } catch {
    return null
  }
}

const JOINABLE_CONTENT = [Y.ContentDeleted, Y.ContentJSON, Y.ContentString, Y.ContentAny]

/** Would a Y.Doc join `struct` to `previous`, the struct decoded before it? */
function isJoinable(previous: Y.Item | Y.GC | Y.Skip | undefined, struct: Y.Item | Y.GC | Y.Skip): boolean {
  if (!(previous instanceof Y.Item) || !(struct instanceof Y.Item)) return false
  const { client, clock } = struct.id
  const sameRight =
    struct.rightOrigin === null ? previous.rightOrigin === null : previous.rightOrigin !== null && Y.compareIDs(struct.rightOrigin, previous.rightOrigin)
  return (
    previous.id.client === client &&
    previous.id.clock + previous.length === clock &&
    struct.content.constructor === previous.content.constructor &&
    JOINABLE_CONTENT.some((kind) => struct.content instanceof kind) &&
    struct.origin !== null &&
    struct.origin.client === client &&
    struct.origin.clock === clock - 1 &&
    sameRight
  )
}

/** Updates of every content kind: strings, deletions, formats, embeds, maps, arrays, XML, binary, JSON, subdocuments. */
function sampleUpdates(): Uint8Array[] {
  const updates: Uint8Array[] = []
  const doc = new Y.Doc()
  doc.clientID = 7
  doc.on('update', (update: Uint8Array) => updates.push(update))
  const text = doc.getText('t')
  text.insert(0, 'hello wörld 👋')
  text.format(0, 5, { bold: true })
  text.insertEmbed(3, { image: 'x.png' })
  text.delete(2, 3)
  const map = doc.getMap('m')
  map.set('n', 1)
  map.set('s', 'str')
  map.set('b', new Uint8Array([1, 2, 3]))
  map.set('o', { deep: [1, { x: null }] })
  map.set('doc', new Y.Doc({ guid: 'sub' }))
  map.set('inner', new Y.Map())
  map.delete('n')
  const array = doc.getArray('a')
  array.insert(0, [1, 'two', { three: 3 }, null, true])
  array.delete(1, 2)
  const xml = doc.getXmlFragment('x')
  const element = new Y.XmlElement('p')
  element.setAttribute('class', 'c')
  element.insert(0, [new Y.XmlText('inside')])
  xml.insert(0, [element, new Y.XmlHook('hook') as unknown as Y.XmlElement])
  // A legacy JSON content item, as old Yjs versions wrote them.
  const legacy = new Y.Doc()
  legacy.clientID = 9
  const legacyUpdates: Uint8Array[] = []
  legacy.on('update', (update: Uint8Array) => legacyUpdates.push(update))
  legacy.getArray('j').insert(0, [1])
  updates.push(Y.encodeStateAsUpdate(doc), Y.mergeUpdates(updates.slice()), ...legacyUpdates)
  const other = new Y.Doc()
  other.clientID = 8
  Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
  other.getText('t').insert(1, 'x')
  other.getText('t').delete(0, 4)
  updates.push(Y.encodeStateAsUpdate(other), Y.diffUpdate(Y.encodeStateAsUpdate(other), Y.encodeStateVector(doc)))
  return updates
}

function expectSameVerdict(update: Uint8Array): void {
  const expected = reference(update)
  const inspection = inspectUpdate(update)
  if (expected === null) {
    expect(inspection.ok, `accepted what Y.decodeUpdate rejects: ${Buffer.from(update).toString('hex')}`).toBe(false)
    return
  }
  expect(inspection.ok, `rejected what Y.decodeUpdate accepts: ${Buffer.from(update).toString('hex')}`).toBe(true)
  if (!inspection.ok) return
  const { ranges } = inspection.meta
  const clients = ranges.filter((_, i) => i % 3 === 0)
  expect(new Set(clients).size, 'one range per client').toBe(clients.length)
  expect(clients.map((client, i) => [client, ranges[3 * i + 1]]).sort()).toEqual([...expected.from].sort())
  expect(clients.map((client, i) => [client, ranges[3 * i + 2]]).sort()).toEqual([...expected.to].sort())
  expect(inspection.meta.hasDeletes).toBe(expected.hasDeletes)
  expect(inspection.meta.joinableStructs).toBe(expected.joinableStructs)
}

describe('inspectUpdate against Y.decodeUpdate', () => {
  it('agrees on real updates of every content kind', () => {
    const updates = sampleUpdates()
    expect(updates.length).toBeGreaterThan(10)
    for (const update of updates) {
      expect(inspectUpdate(update).ok).toBe(true)
      expectSameVerdict(update)
    }
  })

  it.each([1, 2, 3, 4])('agrees on thousands of mutated updates (seed %i)', (seed) => {
    const { next: random } = seeded(seed)
    const updates = sampleUpdates()
    let rejected = 0
    for (let i = 0; i < 3000; i++) {
      const original = updates[Math.floor(random() * updates.length)] as Uint8Array
      const bytes = Array.from(original)
      const mutations = 1 + Math.floor(random() * 3)
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(random() * bytes.length)
        const kind = random()
        if (kind < 0.5) bytes[at] = Math.floor(random() * 256)
        else if (kind < 0.7) bytes.splice(at, 1)
        else if (kind < 0.85) bytes.splice(at, 0, Math.floor(random() * 256))
        else bytes.length = at
      }
      const mutated = Uint8Array.from(bytes)
      if (reference(mutated) === null) rejected++
      expectSameVerdict(mutated)
    }
    // The mutations must exercise both verdicts.
    expect(rejected).toBeGreaterThan(100)
    expect(rejected).toBeLessThan(2900)
  })

  it('reads a view exactly as Yjs does, bytes past its end included', () => {
    const update = sampleUpdates()[0] as Uint8Array
    const backing = new Uint8Array(update.length + 16)
    backing.set(update)
    for (let end = 1; end < update.length; end++) expectSameVerdict(backing.subarray(0, end))
  })
})

describe('joinable structs: how far an update is from compact', () => {
  it('counts a struct per typed keystroke in merged updates, and none in a Y.Doc encoding of the same text', () => {
    const doc = new Y.Doc()
    doc.clientID = 3
    const keystrokes: Uint8Array[] = []
    doc.on('update', (update: Uint8Array) => keystrokes.push(update))
    const text = doc.getText('t')
    for (const ch of 'hello world, typed one key at a time') text.insert(text.length, ch)
    text.delete(0, 6) // deleted characters stay joinable in a merge, and are one run in a Y.Doc
    for (const [i, ch] of [...'again'].entries()) text.insert(i, ch) // a second run, typed at the front
    const merged = inspectUpdate(Y.mergeUpdates(keystrokes))
    const compact = inspectUpdate(Y.encodeStateAsUpdate(doc))
    expect(merged.ok && compact.ok).toBe(true)
    if (!merged.ok || !compact.ok) return
    // 36 + 5 keystrokes in two runs: all but the first of each run continue the one before.
    expect(merged.meta.joinableStructs).toBe(36 - 1 + (5 - 1))
    expect(compact.meta.joinableStructs).toBe(0)
    // A single keystroke update has nothing to join.
    const single = inspectUpdate(keystrokes[1] as Uint8Array)
    expect(single.ok && single.meta.joinableStructs).toBe(0)
  })
})

describe('delete ranges', () => {
  // No structs, a delete set naming client 7 in two entries: [10, 15) then [2, 5), or the
  // other way round. Yjs writes a client once, its ranges sorted and merged.
  const deleteSet = (...entries: Array<[client: number, clock: number, length: number]>): Uint8Array =>
    Uint8Array.from([0, entries.length, ...entries.flatMap(([client, clock, length]) => [client, 1, clock, length])])

  it('refuses a client\'s ranges out of clock order, within one entry or across two', () => {
    expect(inspectUpdate(Uint8Array.from([0, 1, 7, 2, 10, 5, 2, 3])).ok).toBe(false)
    expect(inspectUpdate(deleteSet([7, 10, 5], [7, 2, 3])).ok).toBe(false)
    expectSameVerdict(deleteSet([7, 10, 5], [7, 2, 3]))
  })

  it('accepts sorted ranges, and unsorted clients', () => {
    expect(inspectUpdate(Uint8Array.from([0, 1, 7, 2, 2, 3, 10, 5])).ok).toBe(true)
    expect(inspectUpdate(deleteSet([7, 2, 3], [7, 10, 5])).ok).toBe(true)
    expect(inspectUpdate(deleteSet([9, 10, 5], [7, 2, 3], [8, 0, 1])).ok).toBe(true)
    expectSameVerdict(deleteSet([9, 10, 5], [7, 2, 3], [8, 0, 1]))
  })
})
