/**
 * The demo's composition root: read the route, open the room page (session,
 * badge, presence, name, sharing: room-page.ts), then load the route's editor
 * and attach it. Each editor is its own chunk, fetched by a dynamic `import()`,
 * so `/d/<room>` never downloads CodeMirror and `/c/<room>` never downloads
 * Tiptap (the sizes are in README.md, checked by scripts/bundle-size.mjs).
 */
import './styles.css'
import type { MountEditor } from './editor-binding.js'
import { openRoomPage } from './room-page.js'
import { createRandomRoomName, createRoomUrl, readEditorKind, readRoomRoute, type EditorKind, type RoomRoute } from './room-route.js'

/** The route of this page; a path without a room is moved to a new random room without a reload. */
function resolveRoute(): RoomRoute {
  const url = new URL(location.href)
  const route = readRoomRoute(url)
  if (route) return route
  const editor = readEditorKind(url)
  const room = createRandomRoomName()
  history.replaceState(null, '', createRoomUrl(location.origin, editor, room))
  return { editor, room, token: null }
}

// One literal import() per editor, so the bundler makes each its own chunk.
function loadEditor(kind: EditorKind): Promise<MountEditor> {
  switch (kind) {
    case 'code':
      return import('./code-editor.js').then((module) => module.mountCodeEditor)
    case 'rich-text':
      return import('./rich-text-editor.js').then((module) => module.mountRichTextEditor)
  }
}

async function start(): Promise<void> {
  const route = resolveRoute()
  const page = openRoomPage(route)
  let mount: MountEditor
  try {
    mount = await loadEditor(route.editor)
  } catch (error) {
    // Offline before the service worker cached this editor, or a deploy replaced the chunk.
    page.showEditorFailure(error)
    return
  }
  page.attachEditor(mount(page.editorContext()))
}

void start()
