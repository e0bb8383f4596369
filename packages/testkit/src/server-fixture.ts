import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type ServerOptions } from '@quire/server'

export interface QuireServerFixture {
  /** `ws://127.0.0.1:<port>`: the base URL WebSocket clients connect to. */
  readonly url: string
  readonly httpUrl: string
  readonly port: number
  readonly dataDir: string
  close(): Promise<void>
}

export interface StartQuireServerOptions extends Omit<ServerOptions, 'dataDir'> {
  /** LevelDB directory; a fresh temp dir (removed on close) when omitted. */
  readonly dataDir?: string
  /** Port to listen on; 0 (a free one) by default. */
  readonly port?: number
}

/** An in-process Quire server on 127.0.0.1 with a real LevelDB, disposable. */
export async function startQuireServer(options: StartQuireServerOptions = {}): Promise<QuireServerFixture> {
  const ownDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'quire-test-')))
  const server = createServer({ ...options, dataDir })
  const { port, url } = await server.listen(options.port ?? 0, '127.0.0.1')
  return {
    url: url.replace(/^http/, 'ws'),
    httpUrl: url,
    port,
    dataDir,
    async close() {
      await server.close()
      if (ownDir) await rm(dataDir, { recursive: true, force: true })
    }
  }
}
