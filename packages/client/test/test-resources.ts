import { afterEach } from 'vitest'
import { startQuireServer, type QuireServerFixture, type StartQuireServerOptions } from '@quire/testkit'
import type { QuireSession } from '@quire/client'
import { openSession } from './client-fixture.js'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'

/**
 * What a test of a file opens (servers, network proxies, sessions), closed after each
 * test in reverse order whatever its outcome. Call once at the top of a test file.
 */
export interface TestResources {
  server(options?: StartQuireServerOptions): Promise<QuireServerFixture>
  proxy(target: { port: number }): Promise<TcpProxy>
  session(options: Parameters<typeof openSession>[0]): QuireSession
  /** Anything else to close after the test. */
  add(cleanup: () => Promise<void>): void
}

export function disposeAfterEachTest(): TestResources {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  return {
    async server(options) {
      const fixture = await startQuireServer(options)
      cleanups.push(() => fixture.close())
      return fixture
    },
    async proxy(target) {
      const proxy = await startTcpProxy(target)
      cleanups.push(() => proxy.close())
      return proxy
    },
    session(options) {
      const session = openSession(options)
      cleanups.push(() => session.destroy())
      return session
    },
    add(cleanup) {
      cleanups.push(cleanup)
    }
  }
}
