/**
 * The code / plain-text editor of `/c/<room>`: CodeMirror 6 bound to the
 * session's Y.Doc through y-codemirror.next. The text is the `Y.Text` named
 * `codemirror` (CODE_TEXT_NAME), so a program (see examples/node-bot) can read
 * and write what people see here with `doc.getText('codemirror')`. Remote
 * selections and carets come from awareness (`user: { name, color, colorLight }`,
 * set by the page); undo and redo are a `Y.UndoManager` on that text, so they
 * take back this person's own changes only. Loaded on its own by that route
 * only (see main.ts).
 */
import { Compartment, EditorState, type Extension } from '@codemirror/state'
import { defaultKeymap, indentWithTab } from '@codemirror/commands'
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
  placeholder
} from '@codemirror/view'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import * as Y from 'yjs'
import type { MountEditor } from './editor-binding.js'

/** The shared type this editor edits: `doc.getText(CODE_TEXT_NAME)`. */
export const CODE_TEXT_NAME = 'codemirror'

// Our page's look; the names of other people stay visible above their carets, as in the rich-text editor
// (y-codemirror.next shows them on hover only).
const codeTheme = EditorView.theme({
  '&': { minHeight: '55vh', fontSize: '14px', backgroundColor: 'transparent' },
  '&.cm-focused': { outline: 'none' },
  '.cm-scroller': { fontFamily: 'var(--font-code)', lineHeight: '1.6' },
  // Room above the first line for a caret's name label, which the scroller would clip.
  '.cm-content': { paddingTop: '18px' },
  '.cm-gutters': { backgroundColor: 'transparent', border: 'none', color: 'var(--ink-faint)' },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: '#f6f4ee' },
  '.cm-ySelectionInfo': {
    opacity: '1',
    top: '-1.45em',
    padding: '1px 6px',
    borderRadius: '4px 4px 4px 0',
    font: '600 11px/1.5 var(--font-ui)'
  }
})

function editability(editable: boolean): Extension {
  return [EditorView.editable.of(editable), EditorState.readOnly.of(!editable)]
}

export const mountCodeEditor: MountEditor = ({ element, toolbar, session, editable }) => {
  const ytext = session.doc.getText(CODE_TEXT_NAME)
  const undoManager = new Y.UndoManager(ytext)
  const collab = yCollab(ytext, session.awareness, { undoManager })
  const editabilitySlot = new Compartment()
  const view = new EditorView({
    parent: element,
    state: EditorState.create({
      doc: ytext.toString(),
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        drawSelection(),
        highlightActiveLine(),
        EditorView.lineWrapping,
        placeholder('Start typing… everyone with the link sees it live.'),
        // Yjs' undo first, so Mod-z never reaches anything else; Tab indents (Escape, then Tab, leaves).
        keymap.of([...yUndoManagerKeymap, ...defaultKeymap, indentWithTab]),
        // A remote caret's label follows a rename: patches/y-codemirror.next@0.3.6.patch makes its widget compare names, not only colours.
        collab,
        editabilitySlot.of(editability(editable)),
        EditorView.contentAttributes.of({ 'aria-label': 'Document', spellcheck: 'false', autocapitalize: 'off' }),
        codeTheme
      ]
    })
  })
  const undoButtons = mountUndoButtons(toolbar, view, undoManager)
  return {
    setEditable(value) {
      view.dispatch({ effects: editabilitySlot.reconfigure(editability(value)) })
      undoButtons.refresh()
    },
    // The remote-selection plugin reads `user` from awareness on every redraw: nothing to do here.
    setUser() {},
    focus() {
      view.focus()
    },
    plainText() {
      return view.state.doc.toString()
    }
  }
}

/** Undo and redo buttons over the UndoManager: the only toolbar plain text needs. */
function mountUndoButtons(container: HTMLElement, view: EditorView, undoManager: Y.UndoManager): { refresh(): void } {
  const create = (id: string, label: string, shortcut: string, run: () => void): HTMLButtonElement => {
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'tool'
    button.dataset['testid'] = `tool-${id}`
    button.textContent = label
    button.title = `${label} (${shortcut})`
    // Keep the editor's selection: a mousedown on a button would otherwise blur it.
    button.addEventListener('mousedown', (event) => event.preventDefault())
    button.addEventListener('click', () => {
      run()
      view.focus()
    })
    return button
  }
  const undo = create('undo', 'Undo', 'Ctrl+Z', () => undoManager.undo())
  const redo = create('redo', 'Redo', 'Ctrl+Shift+Z', () => undoManager.redo())
  container.replaceChildren(undo, redo)
  const refresh = (): void => {
    const editable = view.state.facet(EditorView.editable)
    undo.disabled = !editable || undoManager.undoStack.length === 0
    redo.disabled = !editable || undoManager.redoStack.length === 0
  }
  undoManager.on('stack-item-added', refresh)
  undoManager.on('stack-item-popped', refresh)
  undoManager.on('stack-cleared', refresh)
  refresh()
  return { refresh }
}
