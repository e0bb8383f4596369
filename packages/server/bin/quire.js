#!/usr/bin/env node
// The `quire` command. All argv/env reading lives in src/cli; this file only starts it.
import { keepYoungGenerationSmall } from '../dist/cli/young-generation.js'

// Before the CLI's modules load: loading them is the first burst V8 would grow the young
// generation for (see young-generation.ts).
if (process.argv[2] === 'serve') keepYoungGenerationSmall()
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
