import { readFileSync } from 'node:fs'

/**
 * `node --import tsx src/cpu-profile-summary.ts <file.cpuprofile> [top]`: prints
 * the functions with the most self time in a V8 CPU profile (as written by
 * `--cpu-prof`), to name hot spots without opening DevTools.
 */

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export function summarizeProfile(profile: Profile, top: number): string[] {
  const selfMicros = new Map<number, number>()
  profile.samples.forEach((nodeId, index) => {
    selfMicros.set(nodeId, (selfMicros.get(nodeId) ?? 0) + (profile.timeDeltas[index] ?? 0))
  })
  const byFunction = new Map<string, number>()
  for (const node of profile.nodes) {
    const frame = node.callFrame
    const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^\/work\/main\//, '')
    const key = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + (selfMicros.get(node.id) ?? 0))
  }
  const total = [...byFunction.values()].reduce((sum, value) => sum + value, 0)
  return [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, micros]) => `${((micros / total) * 100).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${key}`)
}

const [file, top] = process.argv.slice(2)
if (file) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  console.log(`${file}: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`)
  for (const line of summarizeProfile(profile, Number(top ?? 25))) console.log(line)
}
