/**
 * What an editor has to provide to live in the demo page. The page (room-page.ts)
 * owns the session, the badge, presence, the name field and sharing; an editor
 * module only binds its editor to the session's Y.Doc and awareness, and answers
 * these four calls. That is all an integrator writes per editor: see
 * rich-text-editor.ts (Tiptap) and code-editor.ts (CodeMirror 6).
 */
import type { QuireSession } from '@quire/client'
import type { AwarenessUser } from './user-identity.js'

export interface EditorContext {
  /** Where the editor draws itself. */
  readonly element: HTMLElement
  /** The empty toolbar above the editor, the editor's to fill. */
  readonly toolbar: HTMLElement
  /** `session.doc` and `session.awareness` are what the editor binds to. */
  readonly session: QuireSession
  /** This person, already set in the awareness field `user` by the page. */
  readonly user: AwarenessUser
  /** false for a read-only link: the editor starts non-editable. */
  readonly editable: boolean
}

export interface MountedEditor {
  /** The page learned that edits are refused (read-only access): stop accepting input. */
  setEditable(editable: boolean): void
  /** The name changed: the page already updated the awareness field; redraw what depends on it. */
  setUser(user: AwarenessUser): void
  focus(): void
  /** The document as plain text, for a copy the person keeps (a deleted document's unsaved work). */
  plainText(): string
}

export type MountEditor = (context: EditorContext) => MountedEditor
