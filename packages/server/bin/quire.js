#!/usr/bin/env node
// The `quire` command. All argv/env reading lives in src/cli; this file only starts it.
import { applyServeHeapFlags } from '../dist/cli/serve-heap-flags.js'

// Before the CLI's modules load: loading them is the first burst V8 would grow its heap
// for (see serve-heap-flags.ts).
if (process.argv[2] === 'serve') applyServeHeapFlags()
const { runCli } = await import('../dist/cli/index.js')

runCli(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code
  },
  (error) => {
    console.error(error instanceof Error ? error.message : error)
    process.exitCode = 1
  }
)
