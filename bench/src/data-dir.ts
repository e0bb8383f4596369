import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchContext } from './bench-context.js'

/** A fresh, empty persistence directory for one server start, under the run's work dir. */
export function createDataDir(context: BenchContext, prefix: string): string {
  return mkdtempSync(join(context.workDir, `${prefix}-`))
}
