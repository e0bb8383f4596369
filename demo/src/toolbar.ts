/**
 * The formatting toolbar. Each button is a Tiptap command plus an "is active"
 * query; the buttons re-read editor state after every transaction so that the
 * pressed look follows the caret. Undo and redo are the Collaboration
 * extension's commands, i.e. Yjs' UndoManager: they revert only this user's
 * changes, never a collaborator's.
 */
import type { Editor } from '@tiptap/core'

interface ToolbarButton {
  readonly id: string
  readonly label: string
  readonly shortcut: string
  /** Inner HTML of the button: a short text glyph or an inline SVG we wrote for it. */
  readonly glyph: string
  readonly run: (editor: Editor) => boolean
  readonly isActive?: (editor: Editor) => boolean
  readonly canRun?: (editor: Editor) => boolean
}

const svg = (body: string): string =>
  `<svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${body}</svg>`

const ICON_BULLET_LIST = svg(
  '<line x1="9" y1="6" x2="20" y2="6"/><line x1="9" y1="12" x2="20" y2="12"/><line x1="9" y1="18" x2="20" y2="18"/><circle cx="4.5" cy="6" r="1" fill="currentColor"/><circle cx="4.5" cy="12" r="1" fill="currentColor"/><circle cx="4.5" cy="18" r="1" fill="currentColor"/>'
)
const ICON_ORDERED_LIST = svg(
  '<line x1="10" y1="6" x2="20" y2="6"/><line x1="10" y1="12" x2="20" y2="12"/><line x1="10" y1="18" x2="20" y2="18"/><path d="M4 5h1.5v4" stroke-width="1.6"/><path d="M3.5 15.5c.4-.6 2.6-.8 2.4.6-.1.8-2.4 1.6-2.4 2.9h2.6" stroke-width="1.6"/>'
)
const ICON_CODE = svg('<polyline points="9 7 4 12 9 17"/><polyline points="15 7 20 12 15 17"/>')
const ICON_CODE_BLOCK = svg(
  '<rect x="3" y="4" width="18" height="16" rx="2.5"/><polyline points="10 9.5 7.5 12 10 14.5"/><polyline points="14 9.5 16.5 12 14 14.5"/>'
)
const ICON_UNDO = svg('<path d="M9 14 4 9l5-5"/><path d="M4 9h10.5a5.5 5.5 0 0 1 0 11H11"/>')
const ICON_REDO = svg('<path d="m15 14 5-5-5-5"/><path d="M20 9H9.5a5.5 5.5 0 0 0 0 11H13"/>')

const heading = (level: 1 | 2 | 3): ToolbarButton => ({
  id: `heading-${level}`,
  label: `Heading ${level}`,
  shortcut: `Ctrl+Alt+${level}`,
  glyph: `H<small>${level}</small>`,
  run: (editor) => editor.chain().focus().toggleHeading({ level }).run(),
  isActive: (editor) => editor.isActive('heading', { level })
})

// Groups are separated by a divider in the bar.
const BUTTON_GROUPS: readonly (readonly ToolbarButton[])[] = [
  [
    {
      id: 'bold',
      label: 'Bold',
      shortcut: 'Ctrl+B',
      glyph: '<b>B</b>',
      run: (editor) => editor.chain().focus().toggleBold().run(),
      isActive: (editor) => editor.isActive('bold')
    },
    {
      id: 'italic',
      label: 'Italic',
      shortcut: 'Ctrl+I',
      glyph: '<i>I</i>',
      run: (editor) => editor.chain().focus().toggleItalic().run(),
      isActive: (editor) => editor.isActive('italic')
    },
    {
      id: 'code',
      label: 'Inline code',
      shortcut: 'Ctrl+E',
      glyph: ICON_CODE,
      run: (editor) => editor.chain().focus().toggleCode().run(),
      isActive: (editor) => editor.isActive('code')
    }
  ],
  [heading(1), heading(2), heading(3)],
  [
    {
      id: 'bullet-list',
      label: 'Bulleted list',
      shortcut: 'Ctrl+Shift+8',
      glyph: ICON_BULLET_LIST,
      run: (editor) => editor.chain().focus().toggleBulletList().run(),
      isActive: (editor) => editor.isActive('bulletList')
    },
    {
      id: 'ordered-list',
      label: 'Numbered list',
      shortcut: 'Ctrl+Shift+7',
      glyph: ICON_ORDERED_LIST,
      run: (editor) => editor.chain().focus().toggleOrderedList().run(),
      isActive: (editor) => editor.isActive('orderedList')
    },
    {
      id: 'code-block',
      label: 'Code block',
      shortcut: 'Ctrl+Alt+C',
      glyph: ICON_CODE_BLOCK,
      run: (editor) => editor.chain().focus().toggleCodeBlock().run(),
      isActive: (editor) => editor.isActive('codeBlock')
    }
  ],
  [
    {
      id: 'undo',
      label: 'Undo',
      shortcut: 'Ctrl+Z',
      glyph: ICON_UNDO,
      run: (editor) => editor.chain().focus().undo().run(),
      canRun: (editor) => editor.can().undo()
    },
    {
      id: 'redo',
      label: 'Redo',
      shortcut: 'Ctrl+Shift+Z',
      glyph: ICON_REDO,
      run: (editor) => editor.chain().focus().redo().run(),
      canRun: (editor) => editor.can().redo()
    }
  ]
]

export interface MountedToolbar {
  /** Re-reads editor state; called on every transaction and when editability changes. */
  refresh(): void
  destroy(): void
}

/** Fills `container` with the buttons and keeps their state in step with `editor`. */
export function mountToolbar(container: HTMLElement, editor: Editor): MountedToolbar {
  const rendered: { button: HTMLButtonElement; spec: ToolbarButton }[] = []
  container.replaceChildren()
  BUTTON_GROUPS.forEach((group, index) => {
    if (index > 0) {
      const divider = document.createElement('span')
      divider.className = 'toolbar-divider'
      divider.setAttribute('aria-hidden', 'true')
      container.append(divider)
    }
    for (const spec of group) {
      const button = document.createElement('button')
      button.type = 'button'
      button.className = 'tool'
      button.dataset['testid'] = `tool-${spec.id}`
      button.innerHTML = spec.glyph
      button.title = `${spec.label} (${spec.shortcut})`
      button.setAttribute('aria-label', spec.label)
      // Keep the editor's selection: a mousedown on a button would otherwise blur it.
      button.addEventListener('mousedown', (event) => event.preventDefault())
      button.addEventListener('click', () => {
        spec.run(editor)
      })
      container.append(button)
      rendered.push({ button, spec })
    }
  })

  const refresh = (): void => {
    const editable = editor.isEditable
    for (const { button, spec } of rendered) {
      const active = spec.isActive?.(editor) ?? false
      button.classList.toggle('is-active', active)
      if (spec.isActive) button.setAttribute('aria-pressed', String(active))
      button.disabled = !editable || (spec.canRun ? !spec.canRun(editor) : false)
    }
  }
  editor.on('transaction', refresh)
  editor.on('focus', refresh)
  refresh()
  return {
    refresh,
    destroy: () => {
      editor.off('transaction', refresh)
      editor.off('focus', refresh)
    }
  }
}
