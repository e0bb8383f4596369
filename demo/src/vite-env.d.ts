/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** WebSocket URL of the Quire server in dev mode, e.g. ws://127.0.0.1:1234. */
  readonly VITE_QUIRE_SERVER_URL?: string
}
