/**
 * The History panel of the rich-text page: the document's versions (newest first), a
 * read-only preview of the selected one beside the live editor, "Name this version" and
 * "Restore this version" with a confirmation step. Everything goes through the server's
 * version API (version-history-api.ts); the live document is never touched here. A
 * restore is a forward edit the server applies to the room, so it reaches this page's
 * editor the way anyone's edit does, and every other page at the same time.
 *
 * **The preview is a sandboxed frame.** The server's HTML is already escaped and
 * stripped of scripts, event attributes and unsafe links, but the page does not rely on
 * that alone: the HTML is the `srcdoc` of an `<iframe sandbox="">`, a document with an
 * opaque origin where no script runs, no form submits, nothing navigates this page and
 * nothing reaches its cookies, storage or DOM, whatever the HTML holds. A `<meta>` CSP in
 * the frame forbids loading anything either. Setting the HTML into an element of the page
 * instead would make the server's sanitizer the only line of defence, and the page's
 * editor styles would apply to the preview and the preview's to the page.
 *
 * Loaded on the first click on "History" (room-page.ts), so no page pays for it up front.
 */
import { createVersionHistoryApi, HistoryApiError, type Version, type VersionHistoryApi } from './version-history-api.js'

export interface HistoryPanelOptions {
  /** The `<aside data-testid="history-panel">` of index.html. */
  readonly container: HTMLElement
  /** The History button: its `aria-expanded` follows the panel. */
  readonly button: HTMLElement
  /** The page's grid, which makes room for the panel while it is open. */
  readonly layout: HTMLElement
  readonly serverUrl: string
  readonly room: string
  readonly token: string | null
  /** Whether this page may change the document (a read-only link may not name or restore). */
  readonly canWrite: () => boolean
}

export interface HistoryPanel {
  toggle(): void
  open(): void
  close(): void
}

/** The preview frame's own page: the editor's typography, and nothing may load. */
const PREVIEW_HEAD = `<meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><style>
body{margin:0;padding:16px 20px;font:16px/1.65 'Iowan Old Style','Palatino Linotype',Charter,Georgia,'DejaVu Serif',serif;color:#1f2430;background:#fff;word-wrap:break-word}
body>:first-child{margin-top:0}p{margin:0 0 .6em}h1,h2,h3{font-family:system-ui,sans-serif;line-height:1.25;margin:1em 0 .4em}
ul,ol{padding-left:1.4em}code{font:.85em ui-monospace,Menlo,Consolas,'DejaVu Sans Mono',monospace;background:#f1efe9;padding:.1em .3em;border-radius:4px}
pre{background:#1f2430;color:#e9ecf2;padding:12px 14px;border-radius:8px;overflow-x:auto}pre code{background:none;padding:0;color:inherit}
blockquote{margin:0;padding-left:1em;border-left:3px solid #d5d1c6;color:#5b6275}a{color:#1971c2}
</style>`

export function mountHistoryPanel(options: HistoryPanelOptions): HistoryPanel {
  const { container, button, layout } = options
  const api: VersionHistoryApi = createVersionHistoryApi(options.serverUrl, options.room, options.token)
  const part = <T extends HTMLElement>(testId: string): T => {
    const element = container.querySelector<T>(`[data-testid="${testId}"]`)
    if (!element) throw new Error(`the history panel is missing [data-testid="${testId}"]`)
    return element
  }
  const message = part('history-message')
  const list = part('history-list')
  const nameButton = part<HTMLButtonElement>('history-name-button')
  const nameForm = part<HTMLFormElement>('history-name-form')
  const nameInput = part<HTMLInputElement>('history-name-input')
  const nameSave = part<HTMLButtonElement>('history-name-save')
  const previewSection = part('history-preview-section')
  const previewTitle = part('history-preview-title')
  const restoreButton = part<HTMLButtonElement>('history-restore-button')
  const confirmRow = part('history-confirm')
  const confirmButton = part<HTMLButtonElement>('history-restore-confirm')
  const frame = part<HTMLIFrameElement>('history-preview')

  let versions: Version[] = []
  let selected: number | null = null
  // Answers can come back out of order (a quick second click, a refresh): only the latest counts.
  let listRequest = 0
  let previewRequest = 0

  const say = (text: string, kind: 'info' | 'error' = 'info'): void => {
    message.hidden = text === ''
    message.textContent = text
    message.classList.toggle('is-error', kind === 'error')
  }
  const describeError = (error: unknown): string =>
    error instanceof HistoryApiError ? error.message : `Something went wrong: ${error instanceof Error ? error.message : String(error)}`

  const labelOf = (version: Version): string => {
    if (version.kind === 'auto') return 'Automatic'
    if (version.kind === 'restore' && version.restoredFrom !== null) {
      // The server names a restore after an automatic version's ISO time; say it as the list does.
      const source = versions.find((candidate) => candidate.id === version.restoredFrom)
      if (source) return `Restored from ${source.name ?? formatTime(source.createdAt)}`
    }
    return version.name ?? 'Unnamed'
  }

  const renderList = (): void => {
    list.replaceChildren(
      ...versions.map((version) => {
        const item = document.createElement('li')
        const entry = document.createElement('button')
        entry.type = 'button'
        entry.className = `history-version is-${version.kind}`
        entry.dataset['testid'] = 'history-version'
        entry.dataset['versionId'] = String(version.id)
        entry.setAttribute('aria-pressed', String(version.id === selected))
        const time = document.createElement('time')
        time.className = 'history-time'
        time.dateTime = new Date(version.createdAt).toISOString()
        time.textContent = formatTime(version.createdAt)
        const label = document.createElement('span')
        label.className = 'history-label'
        label.dataset['testid'] = 'history-version-label'
        label.textContent = labelOf(version)
        const who = document.createElement('span')
        who.className = 'history-who'
        who.textContent = version.authors.length > 0 ? version.authors.join(', ') : 'no edits'
        const summary = document.createElement('span')
        summary.className = 'history-summary'
        const inserted = document.createElement('ins')
        inserted.textContent = `+${version.inserted}`
        const deleted = document.createElement('del')
        deleted.textContent = `−${version.deleted}`
        summary.append(inserted, ' ', deleted)
        summary.title = `${version.inserted} characters inserted, ${version.deleted} deleted since the version before`
        entry.append(time, label, who, summary)
        entry.addEventListener('click', () => select(version.id))
        item.append(entry)
        return item
      })
    )
    if (versions.length === 0) {
      const empty = document.createElement('li')
      empty.className = 'history-empty'
      empty.textContent = 'No versions yet. Versions are made after a pause in editing, or name one now.'
      list.append(empty)
    }
  }

  const showPreview = async (id: number): Promise<void> => {
    const request = ++previewRequest
    const version = versions.find((candidate) => candidate.id === id)
    previewSection.hidden = version === undefined
    confirmRow.hidden = true
    if (version === undefined) return
    previewTitle.textContent = `${labelOf(version)} · ${formatTime(version.createdAt)}`
    restoreButton.hidden = !options.canWrite()
    frame.dataset['versionId'] = ''
    try {
      const html = await api.previewHtml(id)
      if (request !== previewRequest) return
      frame.srcdoc = `<!doctype html><html><head>${PREVIEW_HEAD}</head><body>${html}</body></html>`
      // Lets a test (or a person's devtools) tell which version the frame shows.
      frame.dataset['versionId'] = String(id)
    } catch (error) {
      if (request !== previewRequest) return
      frame.srcdoc = ''
      say(describeError(error), 'error')
    }
  }

  const select = (id: number | null): void => {
    selected = id
    for (const entry of list.querySelectorAll<HTMLElement>('[data-testid="history-version"]')) {
      entry.setAttribute('aria-pressed', String(entry.dataset['versionId'] === String(id)))
    }
    if (id === null) previewSection.hidden = true
    else void showPreview(id)
  }

  /** Reloads the list; selects `prefer` if given, else keeps the selection while it still exists, else the newest. */
  const refresh = async (prefer?: number): Promise<void> => {
    const request = ++listRequest
    list.setAttribute('aria-busy', 'true')
    try {
      const fresh = await api.list()
      if (request !== listRequest) return
      versions = fresh
      const keep = prefer ?? selected
      const next = keep !== null && versions.some((version) => version.id === keep) ? keep : (versions[0]?.id ?? null)
      selected = next
      renderList()
      select(next)
    } catch (error) {
      if (request !== listRequest) return
      say(describeError(error), 'error')
    } finally {
      if (request === listRequest) list.removeAttribute('aria-busy')
    }
  }

  /** Runs a write (name, restore) with its button disabled, so a double click is one request. */
  const busy = async (control: HTMLButtonElement, work: () => Promise<void>): Promise<void> => {
    control.disabled = true
    try {
      await work()
    } catch (error) {
      say(describeError(error), 'error')
    } finally {
      control.disabled = false
    }
  }

  // ---- name this version ----
  nameButton.addEventListener('click', () => {
    nameForm.hidden = false
    nameInput.value = ''
    nameInput.focus()
  })
  part('history-name-cancel').addEventListener('click', () => {
    nameForm.hidden = true
  })
  nameForm.addEventListener('submit', (event) => {
    event.preventDefault()
    const name = nameInput.value.trim()
    if (name === '') return
    void busy(nameSave, async () => {
      const version = await api.name(name)
      nameForm.hidden = true
      say(`Named this version “${version.name ?? name}”.`)
      await refresh(version.id)
    })
  })

  // ---- restore, after a confirmation ----
  restoreButton.addEventListener('click', () => {
    confirmRow.hidden = false
    confirmButton.focus()
  })
  part('history-restore-cancel').addEventListener('click', () => {
    confirmRow.hidden = true
  })
  confirmButton.addEventListener('click', () => {
    const id = selected
    if (id === null) return
    const label = versions.find((version) => version.id === id)
    void busy(confirmButton, async () => {
      const restored = await api.restore(id)
      confirmRow.hidden = true
      say(`Restored ${label ? `“${labelOf(label)}”` : 'the version'}. Everyone now sees it.`)
      await refresh(restored.id)
    })
  })

  const isOpen = (): boolean => !container.hidden
  const open = (): void => {
    container.hidden = false
    layout.classList.add('has-history')
    button.setAttribute('aria-expanded', 'true')
    nameButton.hidden = !options.canWrite()
    say('')
    void refresh()
  }
  const close = (): void => {
    container.hidden = true
    layout.classList.remove('has-history')
    button.setAttribute('aria-expanded', 'false')
    nameForm.hidden = true
    confirmRow.hidden = true
  }
  part('history-close').addEventListener('click', close)

  return {
    open,
    close,
    toggle: () => (isOpen() ? close() : open())
  }
}

/** "14:05" today, "3 Dec, 14:05" another day, in the person's own locale. */
function formatTime(epochMs: number): string {
  const date = new Date(epochMs)
  const today = new Date().toDateString() === date.toDateString()
  return date.toLocaleString(undefined, today ? { hour: '2-digit', minute: '2-digit' } : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })
}
