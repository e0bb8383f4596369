#!/usr/bin/env node
// The `quire` command. All argv/env reading lives in src/cli; this file only starts it.
import { runCli } from '../dist/cli/index.js'

runCli(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code
  },
  (error) => {
    console.error(error instanceof Error ? error.message : error)
    process.exitCode = 1
  }
)
