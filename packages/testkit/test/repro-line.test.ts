import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { reproLine } from '../src/index.js'
import { TRICKY_SUITE } from './repro-line-names.js'

/**
 * The repro line printed for a failing seed reruns exactly that case: a nested vitest
 * runs repro-line-target.test.ts with one seed made to fail, and the line taken from that
 * failure is run through `sh -c` as printed. It must select that one test (not its
 * siblings "(seed 1)" / "(seed 12)", not the same name in another suite, not zero tests)
 * and fail again the same way.
 */

const root = fileURLToPath(new URL('../../..', import.meta.url))
const TARGET = 'packages/testkit/test/repro-line-target.test.ts'

interface JsonReport {
  readonly testResults: ReadonlyArray<{
    readonly name: string
    readonly assertionResults: ReadonlyArray<{ readonly ancestorTitles: string[]; readonly title: string; readonly status: string; readonly failureMessages: string[] }>
  }>
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs `command` in a shell at the workspace root; resolves with the JSON report it wrote, whatever its exit code. */
function runVitest(command: string, env: NodeJS.ProcessEnv, outputFile: string): Promise<{ report: JsonReport; output: string }> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', `${command} --reporter=json --outputFile=${outputFile}`], { cwd: root, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      readFile(outputFile, 'utf8').then(
        (text) => resolve({ report: JSON.parse(text) as JsonReport, output: `${stdout}${stderr}` }),
        (readError: unknown) => reject(new Error(`vitest wrote no report (${String(error ?? readError)}):\n${stdout}${stderr}`))
      )
    })
  })
}

function ranTests(report: JsonReport): { file: string; name: string; status: string; failure: string }[] {
  return report.testResults.flatMap((file) =>
    file.assertionResults
      .filter((test) => test.status !== 'skipped' && test.status !== 'pending' && test.status !== 'todo')
      .map((test) => ({
        file: file.name,
        name: [...test.ancestorTitles, test.title].join(' > '),
        status: test.status,
        failure: test.failureMessages.join('\n')
      }))
  )
}

describe('repro lines', () => {
  it('escape the name for the -t regex and for the shell, and name the file', () => {
    expect(reproLine(12, { file: 'packages/x/test/a b.test.ts', names: ['suite', "it's (seed 12) [x]"] }, { extensive: false })).toBe(
      `QUIRE_SEED=12 pnpm vitest run 'packages/x/test/a b.test.ts' -t '^suite(?: > | )it'\\''s \\(seed 12\\) \\[x\\]$'`
    )
    expect(reproLine(3, { file: null, names: ['t'] }, { extensive: true })).toBe(`QUIRE_EXTENSIVE=1 QUIRE_SEED=3 pnpm vitest run -t '^t$'`)
  })

  it('rerun exactly the failing case when run as printed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quire-repro-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const env: NodeJS.ProcessEnv = { ...process.env, QUIRE_REPRO_TARGET_FAIL: '12', QUIRE_TEST_SKIP_CLI_BUILD: '1' }
    delete env['QUIRE_SEED']
    delete env['QUIRE_EXTENSIVE']

    const first = await runVitest(`pnpm vitest run ${TARGET}`, env, join(dir, 'first.json'))
    const failed = ranTests(first.report).filter((test) => test.status === 'failed')
    expect(failed.map((test) => test.name), first.output).toEqual([`${TRICKY_SUITE} > a seeded case (seed 12)`])
    const line = /rerun with: (.+)\)$/m.exec(failed[0]?.failure ?? '')?.[1]
    expect(line, failed[0]?.failure).toBeDefined()

    const rerun = await runVitest(line as string, env, join(dir, 'rerun.json'))
    const ran = ranTests(rerun.report)
    expect(ran.map((test) => `${relative(root, test.file)}: ${test.name} ${test.status}`), rerun.output).toEqual([
      `${TARGET}: ${TRICKY_SUITE} > a seeded case (seed 12) failed`
    ])
    expect(ran[0]?.failure).toMatch(/deliberate failure of seed 12/)
  }, 180_000)
})
