/**
 * How the tests use the demo: the way a person does, through the page. Only
 * reading the document strips the other people's caret widgets (their name
 * labels are DOM text inside the paragraphs, not document content).
 */
import { expect, type BrowserContext, type Locator, type Page } from '@playwright/test'

export type BadgeText = 'Offline' | 'Connecting…' | 'Saving…' | 'All changes saved' | 'No access' | 'Deleted'

export interface DocumentBlock {
  readonly tag: string
  readonly text: string
}

export function roomPath(room: string, token?: string): string {
  const path = `/d/${encodeURIComponent(room)}`
  return token === undefined ? path : `${path}?token=${encodeURIComponent(token)}`
}

/** Other people's carets: widgets inside the paragraphs whose name labels are DOM text, not content. */
const CARET_WIDGET_SELECTOR = '.collaboration-carets__caret'

/** A fresh room name per test, so runs never see each other's documents. */
export function uniqueRoom(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`
}

export function editorOf(page: Page): Locator {
  return page.getByTestId('editor').locator('.ProseMirror')
}

export function badgeOf(page: Page): Locator {
  return page.getByTestId('status-badge')
}

/** Opens the room in a new page of `context` and sets the display name in the name field. */
export async function openRoom(context: BrowserContext, baseUrl: string, room: string, name: string, token?: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(new URL(roomPath(room, token), baseUrl).href)
  await expect(editorOf(page)).toBeVisible()
  await setDisplayName(page, name)
  return page
}

export async function setDisplayName(page: Page, name: string): Promise<void> {
  const field = page.getByTestId('display-name')
  await field.fill(name)
  await field.press('Enter')
  await expect(page.getByTestId('presence-list').getByTestId('presence-user').filter({ hasText: 'you' })).toContainText(name)
}

export async function expectBadge(page: Page, text: BadgeText, timeout?: number): Promise<void> {
  await expect(badgeOf(page)).toHaveText(text, timeout === undefined ? {} : { timeout })
}

/**
 * Puts the caret at the very end of the document the way a person does: a
 * click to the right of the last line of the last text block. (A click in the
 * empty space below a list would leave a gap cursor, and Ctrl+End can stop at
 * another user's caret widget, which is not editable content.)
 */
export async function moveCaretToEnd(page: Page): Promise<void> {
  await moveCaretToEndOfBlock(page, -1)
}

/**
 * Puts the caret at the end of text block `index` (negative counts from the end), as a
 * person does: a click at the end of the block, then End. Before the test types, it waits
 * until the page has settled there. ProseMirror learns of a click's new selection from the
 * browser's `selectionchange` event, a task of its own after the click; a key pressed before
 * it can act at the old selection (in a fresh editor the start of the document, where Enter
 * splits before the text instead of after it). And someone else's caret widget sits inside
 * the paragraph (its name label is DOM text), so a click can land on it; the click is then
 * repeated, as a person would.
 */
export async function moveCaretToEndOfBlock(page: Page, index: number): Promise<void> {
  const blocks = editorOf(page).locator('p, h1, h2, h3, pre')
  const block = index < 0 ? blocks.nth((await blocks.count()) + index) : blocks.nth(index)
  for (let attempt = 0; attempt < 5; attempt++) {
    const box = await block.boundingBox()
    if (box === null) throw new Error(`block ${index} of the document is not visible`)
    await block.click({ position: { x: Math.max(1, box.width - 2), y: Math.max(1, box.height - 4) } })
    await page.keyboard.press('End')
    if (await caretIsAtEndOf(block)) return
  }
  throw new Error(`the caret did not stay at the end of block ${index} after 5 clicks`)
}

/** Whether the selection, once settled, is a caret inside `block` with no document text after it. */
async function caretIsAtEndOf(block: Locator): Promise<boolean> {
  return await block.evaluate(async (element, caretWidget) => {
    // Let the selectionchange task run first (see moveCaretToEndOfBlock).
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))
    const selection = element.ownerDocument.getSelection()
    if (!selection || !selection.isCollapsed || !selection.anchorNode || !element.contains(selection.anchorNode)) return false
    const rest = element.ownerDocument.createRange()
    rest.selectNodeContents(element)
    rest.setStart(selection.anchorNode, selection.anchorOffset)
    const after = rest.cloneContents()
    for (const caret of after.querySelectorAll(caretWidget)) caret.remove()
    return (after.textContent ?? '') === ''
  }, CARET_WIDGET_SELECTOR)
}

export async function typeText(page: Page, text: string, delay = 15): Promise<void> {
  await page.keyboard.type(text, { delay })
}

/** The document as blocks of text, without the collaboration caret widgets. */
export async function readDocument(page: Page): Promise<DocumentBlock[]> {
  return editorOf(page).evaluate((root, caretWidget) => {
    const copy = root.cloneNode(true) as HTMLElement
    for (const caret of copy.querySelectorAll(caretWidget)) caret.remove()
    return Array.from(copy.children).map((block) => ({ tag: block.tagName.toLowerCase(), text: block.textContent ?? '' }))
  }, CARET_WIDGET_SELECTOR)
}

/** Text of the elements matching `selector` inside the editor, without caret widgets. */
export async function readTexts(page: Page, selector: string): Promise<string[]> {
  return editorOf(page).evaluate(
    (root, { css, caretWidget }) => {
      return Array.from(root.querySelectorAll(css)).map((element) => {
        const copy = element.cloneNode(true) as HTMLElement
        for (const caret of copy.querySelectorAll(caretWidget)) caret.remove()
        return copy.textContent ?? ''
      })
    },
    { css: selector, caretWidget: CARET_WIDGET_SELECTOR }
  )
}

/** Waits until `selector` inside the editor holds exactly `expected` (caret labels ignored). */
export async function expectTexts(page: Page, selector: string, expected: readonly string[], timeout?: number): Promise<void> {
  await expect.poll(() => readTexts(page, selector), timeout === undefined ? {} : { timeout }).toEqual(expected)
}

export async function readDocumentText(page: Page): Promise<string> {
  return (await readDocument(page)).map((block) => block.text).join('\n')
}

/** Waits until every page shows the same document, and returns it. */
export async function expectConverged(pages: readonly Page[], timeout = 20_000): Promise<DocumentBlock[]> {
  let last: DocumentBlock[][] = []
  try {
    await expect
      .poll(
        async () => {
          last = await Promise.all(pages.map((page) => readDocument(page)))
          return last.every((doc) => JSON.stringify(doc) === JSON.stringify(last[0]))
        },
        { timeout }
      )
      .toBe(true)
  } catch (error) {
    const documents = last.map((doc, index) => `page ${index}: ${JSON.stringify(doc)}`).join('\n')
    throw new Error(`pages did not converge within ${timeout} ms; last seen:\n${documents}`, { cause: error })
  }
  return last[0] ?? []
}

/** The caret label another user's cursor shows on `page`. */
export function remoteCaretLabel(page: Page, name: string): Locator {
  return editorOf(page).locator('.collaboration-carets__label', { hasText: name })
}

/**
 * Waits until the app-shell service worker controls the page and has its
 * cache, i.e. until this page would open again with no network.
 */
export async function waitForOfflineShell(page: Page): Promise<void> {
  await expect
    .poll(
      () =>
        page.evaluate(async () => {
          if (!navigator.serviceWorker.controller) return false
          const names = await caches.keys()
          for (const name of names) {
            if (name.startsWith('quire-shell-') && (await (await caches.open(name)).match('/index.html'))) return true
          }
          return false
        }),
      { message: 'the service worker never took control of the page with a cached shell' }
    )
    .toBe(true)
}

/**
 * Starts recording, inside the page, the document as it is each time the badge
 * turns to "All changes saved": the badge and the text are read in the same
 * task, so each record is exactly what the person was told is safe.
 */
export async function recordSavedSnapshots(page: Page): Promise<void> {
  await page.evaluate((caretWidget) => {
    const badge = document.querySelector('[data-testid="status-badge"]')
    const root = document.querySelector('[data-testid="editor"] .ProseMirror')
    if (!badge || !root) throw new Error('the demo page has no badge or editor')
    const snapshots: { tag: string; text: string }[][] = []
    const take = (): void => {
      if (badge.textContent !== 'All changes saved') return
      const copy = root.cloneNode(true) as HTMLElement
      for (const caret of copy.querySelectorAll(caretWidget)) caret.remove()
      snapshots.push(Array.from(copy.children).map((block) => ({ tag: block.tagName.toLowerCase(), text: block.textContent ?? '' })))
    }
    new MutationObserver(take).observe(badge, { childList: true, characterData: true, subtree: true })
    take()
    ;(window as unknown as { quireSavedSnapshots: typeof snapshots }).quireSavedSnapshots = snapshots
  }, CARET_WIDGET_SELECTOR)
}

/** The last document the page showed as saved (see recordSavedSnapshots). */
export async function lastSavedSnapshot(page: Page): Promise<DocumentBlock[]> {
  const snapshots = await page.evaluate(
    () => (window as unknown as { quireSavedSnapshots?: DocumentBlock[][] }).quireSavedSnapshots ?? []
  )
  const last = snapshots.at(-1)
  if (last === undefined) throw new Error('the page never showed "All changes saved" while recording')
  return last
}
