/**
 * The fixtures every e2e test uses:
 * - `quire`: a fresh `quire serve` (child process, temp data dir) serving demo/dist;
 * - `launchQuire`: start another one with extra options (auth), disposed the same way;
 * - `launchClones`: three clones on PostgreSQL and Redis behind HAProxy (demo-clones.ts);
 * - `openEditor(server, name, room, token?)`: a new browser context (its own IndexedDB,
 *   service workers and offline switch, i.e. another person's browser) with the
 *   room open and the display name typed in; `server` is anything with the demo's origin.
 * - `openCodeEditor(server, name, room)`: the same with the room's code editor (`/c/<room>`).
 * On failure Playwright screenshots every open page of every context into
 * e2e/artifacts (`screenshot: 'only-on-failure'`), and the server output is attached.
 */
import { test as base, type BrowserContext, type Page } from '@playwright/test'
import { startDemoClones, type DemoClones } from './demo-clones.js'
import { startDemoServer, type DemoServer, type DemoServerOptions } from './demo-server.js'
import { openCodeRoom } from './code-editor-page.js'
import { openRoom } from './editor-page.js'

/** Where the demo is served from: one server, or the balancer in front of clones. */
export type DemoOrigin = Pick<DemoServer, 'httpUrl'>

export interface QuireFixtures {
  quire: DemoServer
  launchQuire: (options?: DemoServerOptions) => Promise<DemoServer>
  launchClones: () => Promise<DemoClones>
  openEditor: (server: DemoOrigin, name: string, room: string, token?: string) => Promise<Page>
  openCodeEditor: (server: DemoOrigin, name: string, room: string) => Promise<Page>
}

export const test = base.extend<QuireFixtures>({
  launchQuire: async ({}, use, testInfo) => {
    const servers: DemoServer[] = []
    await use(async (options) => {
      const server = await startDemoServer(options)
      servers.push(server)
      return server
    })
    for (const [index, server] of servers.entries()) {
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach(`quire-server-${index}.log`, { body: server.output(), contentType: 'text/plain' })
      }
      await server.dispose()
    }
  },

  launchClones: async ({}, use, testInfo) => {
    const clusters: DemoClones[] = []
    await use(async () => {
      const cluster = await startDemoClones()
      clusters.push(cluster)
      return cluster
    })
    for (const [index, cluster] of clusters.entries()) {
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach(`quire-clones-${index}.log`, { body: cluster.output(), contentType: 'text/plain' })
      }
      await cluster.dispose()
    }
  },

  quire: async ({ launchQuire }, use) => {
    await use(await launchQuire())
  },

  openEditor: async ({ browser }, use) => {
    const contexts: BrowserContext[] = []
    await use(async (server, name, room, token) => {
      const context = await browser.newContext({ baseURL: server.httpUrl })
      contexts.push(context)
      return openRoom(context, server.httpUrl, room, name, token)
    })
    for (const context of contexts) await context.close()
  },

  openCodeEditor: async ({ browser }, use) => {
    const contexts: BrowserContext[] = []
    await use(async (server, name, room) => {
      const context = await browser.newContext({ baseURL: server.httpUrl })
      contexts.push(context)
      return openCodeRoom(context, server.httpUrl, room, name)
    })
    for (const context of contexts) await context.close()
  }
})

export { expect } from '@playwright/test'
