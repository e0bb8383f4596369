/**
 * A bot is just another Yjs client: it opens the document with `@quire/client`
 * from Node (`ws` as the WebSocket, no local copy), waits for the first sync so
 * it appends after what people already wrote, edits the Y.Doc, and waits for the
 * server's `saved` acknowledgement before it lets go: only then is the line
 * durable on the server, so a process that exits afterwards loses nothing.
 */
import { connect, type QuireSession } from '@quire/client'
import WebSocket from 'ws'
import * as Y from 'yjs'

export interface AppendBotOptions {
  /** Server base URL, e.g. `ws://127.0.0.1:1234`. */
  readonly url: string
  readonly room: string
  /** A room token with write access, when the server checks tokens. */
  readonly token?: string
  /** The Y.Text to append to; the demo's code editor shows `codemirror`. */
  readonly textName: string
}

export interface AppendBot {
  readonly session: QuireSession
  /** Appends `line` on a line of its own at the end of the text. */
  append(line: string): void
  /** Resolves once the server has durably stored every line appended so far. */
  whenSaved(): Promise<void>
  close(): Promise<void>
}

/** Rejects when the server refuses the session or its edits: waiting could never succeed. */
function whenRefused(session: QuireSession): Promise<never> {
  return new Promise((_, reject) => {
    session.on('closed', ({ code, reason }) => reject(new Error(`the server refused the session (${code}${reason === '' ? '' : `: ${reason}`})`)))
    session.on('permission-denied', (reason) => reject(new Error(`the server refuses edits from this session (${reason === '' ? 'read-only access' : reason})`)))
  })
}

/** Connects and resolves once the document is synced with the server. */
export async function openAppendBot(options: AppendBotOptions): Promise<AppendBot> {
  const doc = new Y.Doc()
  const session = connect(doc, {
    url: options.url,
    room: options.room,
    ...(options.token === undefined ? {} : { token: options.token }),
    offline: false,
    WebSocketPolyfill: WebSocket
  })
  const refused = whenRefused(session)
  // Keep a later refusal from surfacing as an unhandled rejection; whenSaved() reports it.
  refused.catch(() => {})
  try {
    await Promise.race([session.whenSynced, refused])
  } catch (error) {
    await session.destroy()
    throw error
  }
  const text = doc.getText(options.textName)
  return {
    session,
    append(line) {
      const current = text.toString()
      const separator = current === '' || current.endsWith('\n') ? '' : '\n'
      text.insert(text.length, separator + line)
    },
    whenSaved() {
      if (session.saved === true) return Promise.resolve()
      const saved = new Promise<void>((resolve) => {
        const stop = session.on('saved', (value) => {
          if (value !== true) return
          stop()
          resolve()
        })
      })
      return Promise.race([saved, refused])
    },
    close: () => session.destroy()
  }
}
