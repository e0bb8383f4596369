/**
 * How the tests use the demo's code editor (`/c/<room>`, CodeMirror 6 with
 * y-codemirror.next): through the page, as a person does. Other people's carets
 * are widgets inside the lines (their name labels are DOM text), and an empty
 * document shows a placeholder widget: reading the text strips both.
 */
import { expect, type BrowserContext, type Locator, type Page } from '@playwright/test'
import { setDisplayName } from './editor-page.js'

/** y-codemirror.next's remote caret (with its name label) and CodeMirror's placeholder: not document text. */
const NOT_TEXT_SELECTOR = '.cm-ySelectionCaret, .cm-placeholder'

export function codeRoomPath(room: string, token?: string): string {
  const path = `/c/${encodeURIComponent(room)}`
  return token === undefined ? path : `${path}?token=${encodeURIComponent(token)}`
}

/** The editable content of the code editor. */
export function codeEditorOf(page: Page): Locator {
  return page.getByTestId('editor').locator('.cm-content')
}

/** Opens the room's code editor in a new page of `context` and sets the display name. */
export async function openCodeRoom(context: BrowserContext, baseUrl: string, room: string, name: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(new URL(codeRoomPath(room), baseUrl).href)
  await expect(codeEditorOf(page)).toBeVisible()
  await setDisplayName(page, name)
  return page
}

/** Focuses the editor and puts the caret at the very end of the document (CodeMirror's Ctrl+End). */
export async function moveCodeCaretToEnd(page: Page): Promise<void> {
  await codeEditorOf(page).click()
  await page.keyboard.press('Control+End')
}

/** Puts the caret at the end of line `index` (0-based) with the keyboard. */
export async function moveCodeCaretToEndOfLine(page: Page, index: number): Promise<void> {
  await codeEditorOf(page).click()
  await page.keyboard.press('Control+Home')
  for (let line = 0; line < index; line++) await page.keyboard.press('ArrowDown')
  await page.keyboard.press('End')
}

/** The document as its lines, without remote carets and placeholder. */
export async function readCodeLines(page: Page): Promise<string[]> {
  return codeEditorOf(page).evaluate((root, notText) => {
    return Array.from(root.querySelectorAll(':scope > .cm-line')).map((line) => {
      const copy = line.cloneNode(true) as HTMLElement
      for (const widget of copy.querySelectorAll(notText)) widget.remove()
      return copy.textContent ?? ''
    })
  }, NOT_TEXT_SELECTOR)
}

/** Waits until every page shows the same lines, and returns them. */
export async function expectCodeConverged(pages: readonly Page[], timeout = 20_000): Promise<string[]> {
  let last: string[][] = []
  try {
    await expect
      .poll(
        async () => {
          last = await Promise.all(pages.map((page) => readCodeLines(page)))
          return last.every((lines) => JSON.stringify(lines) === JSON.stringify(last[0]))
        },
        { timeout }
      )
      .toBe(true)
  } catch (error) {
    const documents = last.map((lines, index) => `page ${index}: ${JSON.stringify(lines)}`).join('\n')
    throw new Error(`pages did not converge within ${timeout} ms; last seen:\n${documents}`, { cause: error })
  }
  return last[0] ?? []
}

/** The name label over another person's caret. */
export function remoteCodeCaretLabel(page: Page, name: string): Locator {
  return codeEditorOf(page).locator('.cm-ySelectionCaret .cm-ySelectionInfo', { hasText: name })
}

/** Text another person has selected, as this page highlights it. */
export function remoteCodeSelection(page: Page): Locator {
  return codeEditorOf(page).locator('.cm-ySelection')
}
