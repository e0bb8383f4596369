#!/usr/bin/env node
/**
 * The JavaScript each route of the demo downloads before its editor works
 * ("first load"), measured on the built files: the entry chunk of index.html,
 * the route's editor chunk (a dynamic import in src/main.ts), and every chunk
 * they import statically, each counted once. Sizes are raw bytes and gzip
 * (level 9, what a compressing proxy or CDN would send; `quire serve` itself
 * sends the files as they are). Reads dist/.vite/manifest.json, written by
 * `vite build` (`build.manifest`).
 *
 * Exits 1 when a route is over its budget, or when the manifest no longer has a
 * route's editor module (renamed? then update ROUTES below), so `pnpm build`
 * fails instead of letting the demo grow unnoticed.
 *
 *   node scripts/bundle-size.mjs [--json]      (from demo/, after vite build)
 */
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'

const distDir = fileURLToPath(new URL('../dist/', import.meta.url))

/**
 * Route, the source module main.ts loads for it, and its first-load budget in gzip kB
 * (1 kB = 1000 bytes). The rich-text budget is the (200 kB); the code route's is
 * below what it would weigh with Tiptap in it, so a static import that drags the other
 * editor into a route fails the build.
 */
const ROUTES = [
  { route: '/d/<room>', editor: 'rich text (Tiptap)', module: 'src/rich-text-editor.ts', budgetKb: 200 },
  { route: '/c/<room>', editor: 'code (CodeMirror 6)', module: 'src/code-editor.ts', budgetKb: 150 }
]

function readManifest() {
  const path = `${distDir}.vite/manifest.json`
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new Error(`cannot read ${path} (run \`vite build\` first): ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** Manifest keys of `roots` and of every chunk they import statically (dynamic imports are later loads). */
function staticClosure(manifest, roots) {
  const seen = new Set()
  const visit = (key) => {
    if (seen.has(key)) return
    const chunk = manifest[key]
    if (chunk === undefined) throw new Error(`the manifest has no chunk ${key}`)
    seen.add(key)
    for (const imported of chunk.imports ?? []) visit(imported)
  }
  for (const root of roots) visit(root)
  return [...seen]
}

function measure(manifest, keys) {
  const files = keys.map((key) => {
    const file = manifest[key].file
    const bytes = readFileSync(distDir + file)
    return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }
  })
  files.sort((a, b) => b.gzip - a.gzip)
  return { files, raw: files.reduce((sum, f) => sum + f.raw, 0), gzip: files.reduce((sum, f) => sum + f.gzip, 0) }
}

const kb = (bytes) => (bytes / 1000).toFixed(1)

function main() {
  const manifest = readManifest()
  const entries = Object.keys(manifest).filter((key) => manifest[key].isEntry)
  if (entries.length !== 1) throw new Error(`expected one entry (index.html) in the manifest, found ${entries.length}`)
  const entry = entries[0]
  const results = ROUTES.map((spec) => {
    if (manifest[spec.module] === undefined || !manifest[entry].dynamicImports?.includes(spec.module)) {
      throw new Error(`${spec.module} is not a dynamic import of ${entry} in the manifest: did main.ts change? Update ROUTES in scripts/bundle-size.mjs`)
    }
    return { ...spec, ...measure(manifest, staticClosure(manifest, [entry, spec.module])) }
  })

  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(results, null, 2))
  } else {
    for (const result of results) {
      console.log(`${result.route}  ${result.editor}: first-load JS ${kb(result.gzip)} kB gzip (${kb(result.raw)} kB raw), budget ${result.budgetKb} kB gzip`)
      for (const file of result.files) console.log(`    ${file.file.padEnd(40)} ${kb(file.gzip).padStart(7)} kB gzip ${kb(file.raw).padStart(8)} kB raw`)
    }
  }
  const over = results.filter((result) => result.gzip > result.budgetKb * 1000)
  for (const result of over) {
    console.error(`bundle-size: ${result.route} loads ${kb(result.gzip)} kB gzip of JavaScript, over its ${result.budgetKb} kB budget`)
  }
  return over.length === 0 ? 0 : 1
}

try {
  process.exitCode = main()
} catch (error) {
  console.error(`bundle-size: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
