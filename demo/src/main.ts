/**
 * The demo's composition root: read the room from the URL, open a Quire
 * session on a fresh Y.Doc (IndexedDB cache on), bind Tiptap to it, and wire
 * the status badge, presence list, name field and share buttons to the
 * session's state. Nothing here talks to the network except through
 * `@quire/client` and the share endpoint.
 */
import './styles.css'
import { connect } from '@quire/client'
import { Editor } from '@tiptap/core'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import StarterKit from '@tiptap/starter-kit'
import * as Y from 'yjs'
import { mountPresenceList } from './presence-list.js'
import { createRandomRoomName, createRoomUrl, readRoomRoute, type RoomRoute } from './room-route.js'
import { resolveServerUrl } from './server-url.js'
import { registerAppShellWorker } from './service-worker-registration.js'
import { createShareLink, type ShareAccess } from './share-link.js'
import { describeSyncState } from './sync-badge.js'
import { readTokenAccess } from './token-access.js'
import { mountToolbar } from './toolbar.js'
import { loadUserIdentity, normalizeName, saveUserIdentity, type UserIdentity } from './user-identity.js'

function requireElement<T extends HTMLElement>(testId: string): T {
  const element = document.querySelector<T>(`[data-testid="${testId}"]`)
  if (!element) throw new Error(`index.html is missing [data-testid="${testId}"]`)
  return element
}

/** The route of this page; the home page is moved to a new random room without a reload. */
function resolveRoute(): RoomRoute {
  const route = readRoomRoute(new URL(location.href))
  if (route) return route
  const room = createRandomRoomName()
  history.replaceState(null, '', createRoomUrl(location.origin, room))
  return { room, token: null }
}

function start(): void {
  const route = resolveRoute()
  document.title = `${route.room} · Quire`
  requireElement('room-name').textContent = route.room

  let identity: UserIdentity = loadUserIdentity(localStorage)
  const doc = new Y.Doc()
  const session = connect(doc, {
    url: resolveServerUrl(location, import.meta.env),
    room: route.room,
    ...(route.token === null ? {} : { token: route.token }),
    offline: true
  })

  const editor = new Editor({
    element: requireElement('editor'),
    extensions: [
      // Yjs' UndoManager (through Collaboration) replaces ProseMirror's history. The trailing
      // node extension would make every client append its own empty paragraph to the shared
      // document (duplicates on concurrent loads, writes from read-only pages); the gap cursor
      // already lets people leave a list or code block at the end.
      StarterKit.configure({ undoRedo: false, trailingNode: false }),
      Collaboration.configure({ document: doc }),
      // The session has the `awareness` the caret extension needs from a "provider".
      CollaborationCaret.configure({ provider: session, user: { ...identity } })
    ],
    editorProps: { attributes: { 'aria-label': 'Document', spellcheck: 'true' } }
  })
  const toolbar = mountToolbar(requireElement('toolbar'), editor)

  // ---- read-only sessions ----
  // The server refuses a reader's updates whatever the page does; showing it up front spares
  // the reader typing that would never be saved.
  const readOnly = route.token !== null && readTokenAccess(route.token) === 'read'
  const accessBadge = requireElement('access-badge')
  const showReadOnly = (): void => {
    accessBadge.hidden = false
    editor.setEditable(false)
    toolbar.refresh()
  }
  if (readOnly) showReadOnly()

  // ---- status badge ----
  const badge = requireElement('status-badge')
  const hint = requireElement('offline-hint')
  let hasBeenDisconnected = false
  let refusal: { code: number; reason: string } | null = null
  let editsRefused: string | null = null
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
      editsRefused
    })
    badge.dataset['status'] = state.kind
    badge.textContent = state.label
    badge.title = state.detail
    hint.hidden = state.kind !== 'offline' && state.kind !== 'refused'
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
    editor.commands.updateUser({ ...identity })
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
      const outcome = await createShareLink(location.origin, route.room, route.token, access)
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
    editor.commands.focus()
  })
  const shareReadOnly = requireElement('share-read-only-button')
  shareReadOnly.addEventListener('click', () => void share('read'))

  // Only a page holding a writer's token can ask the server for a read-only one.
  shareReadOnly.hidden = route.token === null || readOnly

  if (import.meta.env.PROD) void registerAppShellWorker()

  // Leave the room cleanly so others see us go at once instead of after the awareness timeout.
  window.addEventListener('pagehide', () => session.disconnect())
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) session.reconnect()
  })
}

start()
