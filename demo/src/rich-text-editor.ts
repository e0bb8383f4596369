/**
 * The rich-text editor of `/d/<room>`: Tiptap bound to the session's Y.Doc
 * (the XML fragment `default`, the Collaboration extension's field), with the
 * other people's carets and the formatting toolbar. Loaded on its own by that
 * route only (see main.ts).
 */
import { Editor } from '@tiptap/core'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import StarterKit from '@tiptap/starter-kit'
import type { MountEditor } from './editor-binding.js'
import { mountToolbar } from './toolbar.js'

export const mountRichTextEditor: MountEditor = ({ element, toolbar: toolbarElement, session, user, editable }) => {
  const editor = new Editor({
    element,
    editable,
    extensions: [
      // Yjs' UndoManager (through Collaboration) replaces ProseMirror's history. The trailing
      // node extension would make every client append its own empty paragraph to the shared
      // document (duplicates on concurrent loads, writes from read-only pages); the gap cursor
      // already lets people leave a list or code block at the end.
      StarterKit.configure({ undoRedo: false, trailingNode: false }),
      Collaboration.configure({ document: session.doc }),
      // The session has the `awareness` the caret extension needs from a "provider".
      CollaborationCaret.configure({ provider: session, user: { ...user } })
    ],
    editorProps: { attributes: { 'aria-label': 'Document', spellcheck: 'true' } }
  })
  const toolbar = mountToolbar(toolbarElement, editor)
  return {
    setEditable(value) {
      editor.setEditable(value)
      toolbar.refresh()
    },
    setUser(next) {
      editor.commands.updateUser({ ...next })
    },
    focus() {
      editor.commands.focus()
    },
    plainText() {
      return editor.getText({ blockSeparator: '\n\n' })
    }
  }
}
