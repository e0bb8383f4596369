/**
 * Everything a room page does whatever its editor: open a Quire session on a
 * fresh Y.Doc (IndexedDB copy on), and wire the status badge, presence list,
 * name field, share buttons and read-only state to the session's own state.
 * The editor arrives later (each route loads its editor's code on its own) and
 * is attached with `attachEditor`; until then the badge and presence already
 * work and edits cannot happen. Nothing here talks to the network except
 * through `@quire/client` and the share endpoint.
 */
import { connect, type QuireSession } from '@quire/client'
import * as Y from 'yjs'
import type { EditorContext, MountedEditor } from './editor-binding.js'
import type { HistoryPanel } from './history-panel.js'
import { fetchRoomMarkdown, markdownFileName } from './markdown-download.js'
import { mountPresenceList } from './presence-list.js'
import type { RoomRoute } from './room-route.js'
import { resolveServerUrl } from './server-url.js'
import { registerAppShellWorker } from './service-worker-registration.js'
import { createShareLink, type ShareAccess } from './share-link.js'
import { describeSyncState } from './sync-badge.js'
import { readTokenAccess } from './token-access.js'
import { createAwarenessUser, loadUserIdentity, normalizeName, saveUserIdentity, type UserIdentity } from './user-identity.js'

export interface RoomPage {
  readonly session: QuireSession
  /** What an editor needs to mount itself (see editor-binding.ts). */
  editorContext(): EditorContext
  /** Hands the page its editor: the read-only state and name changes reach it from now on. */
  attachEditor(editor: MountedEditor): void
  /** The editor's code could not be loaded: say so where the editor would be. */
  showEditorFailure(error: unknown): void
}

/** Offers `text` as a file download. */
function downloadText(fileName: string, text: string, type = 'text/plain;charset=utf-8'): void {
  const link = document.createElement('a')
  link.href = URL.createObjectURL(new Blob([text], { type }))
  link.download = fileName
  link.click()
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000)
}

function requireElement<T extends HTMLElement>(testId: string): T {
  const element = document.querySelector<T>(`[data-testid="${testId}"]`)
  if (!element) throw new Error(`index.html is missing [data-testid="${testId}"]`)
  return element
}

export function openRoomPage(route: RoomRoute): RoomPage {
  document.title = `${route.room} · Quire`
  document.body.dataset['editor'] = route.editor
  requireElement('room-name').textContent = route.room

  let identity: UserIdentity = loadUserIdentity(localStorage)
  const serverUrl = resolveServerUrl(location, import.meta.env)
  const session = connect(new Y.Doc(), {
    url: serverUrl,
    room: route.room,
    ...(route.token === null ? {} : { token: route.token }),
    offline: true
  })
  // Set here rather than by the editor, so the presence list is right before the editor has loaded.
  session.awareness.setLocalStateField('user', createAwarenessUser(identity))
  let editor: MountedEditor | null = null

  // ---- read-only sessions ----
  // The server refuses a reader's updates whatever the page does; showing it up front spares
  // the reader typing that would never be saved.
  const readOnly = route.token !== null && readTokenAccess(route.token) === 'read'
  let editable = !readOnly
  const accessBadge = requireElement('access-badge')
  const showReadOnly = (): void => {
    accessBadge.hidden = false
    editable = false
    editor?.setEditable(false)
  }
  if (readOnly) showReadOnly()

  // ---- status badge ----
  const badge = requireElement('status-badge')
  const hint = requireElement('offline-hint')
  let hasBeenDisconnected = false
  let refusal: { code: number; reason: string } | null = null
  let editsRefused: string | null = null
  let deleted: { unsaved: boolean } | null = null
  const renderBadge = (): void => {
    if (session.status === 'disconnected') hasBeenDisconnected = true
    const state = describeSyncState({
      status: session.status,
      synced: session.synced,
      saved: session.saved,
      unsavedChanges: session.unsavedChanges,
      hasBeenDisconnected,
      networkAvailable: navigator.onLine,
      refusal,
      editsRefused,
      deleted
    })
    badge.dataset['status'] = state.kind
    badge.textContent = state.label
    badge.title = state.detail
    hint.hidden = state.kind !== 'offline' && state.kind !== 'refused' && state.kind !== 'deleted'
    hint.textContent = state.detail
  }
  session.on('status', renderBadge)
  session.on('synced', renderBadge)
  session.on('saved', renderBadge)
  session.on('unsaved-changes', renderBadge)
  // An opaque token (or one whose access changed) is only found out when the server refuses an edit.
  session.on('permission-denied', (reason) => {
    editsRefused = reason === '' ? 'read-only access' : reason
    showReadOnly()
    renderBadge()
  })
  session.on('closed', (event) => {
    refusal = event
    renderBadge()
  })
  // The document was deleted: nothing more can be saved here. Unsaved work is offered as a
  // file (the session kept the local copy for it); otherwise the session cleared it.
  const copyButton = requireElement<HTMLButtonElement>('save-copy-button')
  session.on('deleted', ({ unsaved }) => {
    deleted = { unsaved: unsaved !== null }
    editable = false
    editor?.setEditable(false)
    copyButton.hidden = unsaved === null
    renderBadge()
  })
  copyButton.addEventListener('click', () => {
    if (editor !== null) downloadText(`${route.room.replace(/[^\w.-]+/g, '_')} (copy).txt`, editor.plainText())
  })
  window.addEventListener('online', renderBadge)
  window.addEventListener('offline', renderBadge)
  renderBadge()

  // ---- presence and name ----
  mountPresenceList(requireElement('presence-list'), requireElement('presence-count'), session.awareness)
  const nameInput = requireElement<HTMLInputElement>('display-name')
  const ownColour = requireElement('own-colour')
  ownColour.style.backgroundColor = identity.color
  nameInput.value = identity.name
  const applyName = (raw: string): void => {
    identity = { ...identity, name: normalizeName(raw, identity.name) }
    saveUserIdentity(localStorage, identity)
    const user = createAwarenessUser(identity)
    session.awareness.setLocalStateField('user', user)
    editor?.setUser(user)
  }
  nameInput.addEventListener('input', () => applyName(nameInput.value))
  nameInput.addEventListener('change', () => {
    applyName(nameInput.value)
    nameInput.value = identity.name
  })

  // ---- sharing ----
  const sharePanel = requireElement('share-panel')
  const shareUrl = requireElement<HTMLInputElement>('share-url')
  const shareFeedback = requireElement('share-feedback')
  const shareAccess = requireElement('share-access')
  const share = async (access: ShareAccess): Promise<void> => {
    sharePanel.hidden = false
    // A reader's own link carries the reader's token: it can only ever give read access.
    shareAccess.textContent = access === 'read' || readOnly ? 'read' : 'edit'
    shareFeedback.classList.remove('is-error')
    shareFeedback.textContent = access === 'read' ? 'Creating link…' : ''
    shareUrl.value = ''
    try {
      const outcome = await createShareLink(location.origin, route.editor, route.room, route.token, access)
      shareUrl.value = outcome.url
      shareFeedback.textContent = outcome.copied ? 'Copied to clipboard' : 'Copy the link above'
      shareUrl.focus()
      shareUrl.select()
    } catch (error) {
      shareFeedback.classList.add('is-error')
      shareFeedback.textContent = error instanceof Error ? error.message : String(error)
    }
  }
  requireElement('share-button').addEventListener('click', () => void share('edit'))
  requireElement('share-close').addEventListener('click', () => {
    sharePanel.hidden = true
    editor?.focus()
  })
  const shareReadOnly = requireElement('share-read-only-button')
  shareReadOnly.addEventListener('click', () => void share('read'))

  // Only a page holding a writer's token can ask the server for a read-only one.
  shareReadOnly.hidden = route.token === null || readOnly

  // ---- download as Markdown (rich text only: the server renders Tiptap's fragment) ----
  const downloadMarkdown = requireElement<HTMLButtonElement>('download-markdown-button')
  downloadMarkdown.hidden = route.editor !== 'rich-text'
  downloadMarkdown.addEventListener('click', () => {
    downloadMarkdown.disabled = true
    fetchRoomMarkdown(serverUrl, route.room, route.token)
      .then((markdown) => downloadText(markdownFileName(route.room), markdown, 'text/markdown;charset=utf-8'))
      .catch((error: unknown) => {
        downloadMarkdown.title = error instanceof Error ? error.message : String(error)
        downloadMarkdown.classList.add('is-error')
      })
      .finally(() => {
        downloadMarkdown.disabled = false
      })
  })

  // ---- history (rich text only: the preview is the server's rendering of Tiptap's fragment) ----
  // The panel's code is fetched on the first click, so a page that never opens it never loads it.
  const historyButton = requireElement<HTMLButtonElement>('history-button')
  const historyContainer = requireElement('history-panel')
  historyButton.hidden = route.editor !== 'rich-text'
  let historyPanel: Promise<HistoryPanel> | null = null
  historyButton.addEventListener('click', () => {
    historyPanel ??= import('./history-panel.js').then((module) =>
      module.mountHistoryPanel({
        container: historyContainer,
        button: historyButton,
        layout: requireElement('layout'),
        serverUrl,
        room: route.room,
        token: route.token,
        canWrite: () => editable
      })
    )
    historyPanel
      .then((panel) => {
        historyButton.classList.remove('is-error')
        historyButton.removeAttribute('title')
        panel.toggle()
      })
      .catch((error: unknown) => {
        // Offline before the service worker cached the chunk: the next click tries again.
        historyPanel = null
        historyButton.title = `The history could not be loaded (${error instanceof Error ? error.message : String(error)})`
        historyButton.classList.add('is-error')
      })
  })

  if (import.meta.env.PROD) void registerAppShellWorker()

  // Leave the room cleanly so others see us go at once instead of after the awareness timeout.
  window.addEventListener('pagehide', () => session.disconnect())
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) session.reconnect()
  })

  const editorElement = requireElement('editor')
  return {
    session,
    editorContext: () => ({
      element: editorElement,
      toolbar: requireElement('toolbar'),
      session,
      user: createAwarenessUser(identity),
      editable
    }),
    attachEditor(mounted) {
      editor = mounted
      // A refusal may have arrived while the editor's code was loading.
      if (!editable) mounted.setEditable(false)
    },
    showEditorFailure(error) {
      const message = document.createElement('p')
      message.className = 'editor-failure'
      message.dataset['testid'] = 'editor-failure'
      message.textContent = `The editor could not be loaded (${error instanceof Error ? error.message : String(error)}). Reload the page to try again; your document is kept on this device.`
      editorElement.replaceChildren(message)
    }
  }
}
