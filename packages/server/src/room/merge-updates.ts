import * as Y from 'yjs'

/**
 * `Y.mergeUpdates`, safe for many inputs. Yjs re-sorts all of its input readers for
 * every run of structs it copies, so one call on n small updates costs about n² log n:
 * a flood delivering thousands of updates in one event-loop turn would stall the
 * process for minutes. Merging in a tree of small groups keeps each call cheap and the
 * whole merge near-linear (total size × log n).
 */
const FAN_IN = 8

export function mergeUpdates(updates: readonly Uint8Array[]): Uint8Array {
  let level = updates
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += FAN_IN) {
      const group = level.slice(i, i + FAN_IN)
      next.push(group.length === 1 ? group[0]! : Y.mergeUpdates(group))
    }
    level = next
  }
  return level[0] ?? Y.mergeUpdates([])
}
