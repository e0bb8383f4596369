import { expect, type BrowserContext, type Page } from '@playwright/test'
import { editorOf, roomPath, setDisplayName } from './editor-page.js'

/**
 * A page whose WebSocket traffic the test can cut while its context stays online. The
 * route must be in place before the page loads (Playwright patches the page's WebSocket
 * as it starts); while cut, every socket the page opens is closed at once, and the one
 * open at the time is dropped the way the page drops it when the browser reports a
 * network loss.
 */
export interface CuttablePage {
  readonly page: Page
  cut(): Promise<void>
  restore(): Promise<void>
}

export async function openCuttablePage(context: BrowserContext, baseUrl: string, room: string, name: string): Promise<CuttablePage> {
  let cut = false
  const page = await context.newPage()
  await page.routeWebSocket(/.*/, (socket) => {
    if (cut) void socket.close({ code: 3000, reason: 'cut off by the test' })
    else void socket.connectToServer()
  })
  await page.goto(new URL(roomPath(room), baseUrl).href)
  await expect(editorOf(page)).toBeVisible()
  await setDisplayName(page, name)
  return {
    page,
    async cut() {
      cut = true
      await page.evaluate(() => window.dispatchEvent(new Event('offline')))
    },
    async restore() {
      cut = false
      // The page retries at once when the browser says the network is back.
      await page.evaluate(() => window.dispatchEvent(new Event('online')))
    }
  }
}
