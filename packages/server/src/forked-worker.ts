import { fork, type ChildProcess } from 'node:child_process'
import type { WorkerLike } from './on-demand-worker.js'

/**
 * A child process running `modulePath`, seen as a worker by on-demand-worker.ts. For
 * work that must not compete with the relay even for a core: a worker thread shares the
 * server's V8 platform, whose garbage-collector helper threads run at the server's
 * priority, so a thread's collections take the relay's core even when the thread itself
 * is niced. A process of its own can lower the priority of all its threads (the render
 * worker does, see `@quire/render/worker`).
 *
 * Messages go over the IPC channel with structured-clone serialization: typed arrays are
 * copied, not transferred. `argument` reaches the child as `process.argv[2]` (JSON). The
 * child gets none of the server's node flags (a profiler, heap limits meant for the
 * relay), and exits when the channel closes: a server killed with SIGKILL leaves no child
 * behind.
 */
export function forkWorker(modulePath: string, argument: unknown): WorkerLike {
  const child = fork(modulePath, [JSON.stringify(argument)], { serialization: 'advanced', execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new ForkedWorker(child)
}

class ForkedWorker implements WorkerLike {
  private exited: Promise<void>

  constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
  }

  postMessage(message: unknown): void {
    this.child.send(message as object)
  }

  on(event: 'message' | 'error' | 'exit', listener: (value: never) => void): this {
    if (event === 'exit') this.child.on('exit', (code, signal) => (listener as (code: number) => void)(code ?? (signal === null ? 0 : 1)))
    else this.child.on(event, listener as (value: unknown) => void)
    return this
  }

  once(_event: 'online', listener: () => void): this {
    this.child.once('spawn', listener)
    return this
  }

  unref(): void {
    // Neither the process nor its channel keeps the server's event loop alive.
    this.child.unref()
    ;(this.child.channel as { unref?: () => void } | null | undefined)?.unref?.()
  }

  async terminate(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill()
    await this.exited
  }
}
