import { spawn } from 'node:child_process'
import { getPriority } from 'node:os'
import { SERVER_CORE } from './server-process.js'

/** The niceness Quire's render thread gives itself (render-thread.ts). */
const RENDER_NICENESS = 19

export interface CoreSpinner {
  stop(): Promise<void>
}

/**
 * A process that only spins, pinned to the server's core at the render thread's
 * niceness: the least any work beside the relay on that core can cost it. The render
 * scenario measures the relay beside it, so that what renders add to the relay's p99 can
 * be told apart from what sharing one core with any busy thread costs.
 */
export function startCoreSpinner(): CoreSpinner {
  const child = spawn('taskset', ['-c', SERVER_CORE, 'nice', '-n', String(RENDER_NICENESS - getPriority()), process.execPath, '-e', 'for (;;) {}'], {
    stdio: 'ignore'
  })
  return {
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the core spinner stopped early (exit ${child.exitCode ?? child.signalCode})`)
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
  }
}
