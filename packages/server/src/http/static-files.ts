import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, normalize, resolve, sep } from 'node:path'

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8'
}

/**
 * Serves a built single-page app from `root`. Paths without a file extension that
 * match no file fall back to index.html, so client-side routes like /d/<room> load the
 * app. Nothing outside `root` is reachable. Hashed assets are cached for good; the
 * HTML and the service worker are revalidated on every load so updates reach users.
 */
export function createStaticHandler(root: string): (request: IncomingMessage, response: ServerResponse) => Promise<boolean> {
  const base = resolve(root)
  return async (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false
    let pathname: string
    try {
      pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname)
    } catch {
      return false
    }
    const candidate = resolve(join(base, normalize(pathname)))
    if (candidate !== base && !candidate.startsWith(base + sep)) return false
    let file = candidate
    let info = await stat(file).catch(() => null)
    if (info?.isDirectory()) {
      file = join(file, 'index.html')
      info = await stat(file).catch(() => null)
    }
    if (!info?.isFile()) {
      if (extname(pathname) !== '') return false
      file = join(base, 'index.html')
      info = await stat(file).catch(() => null)
      if (!info?.isFile()) return false
    }
    const ext = extname(file)
    const immutable = file.includes(`${sep}assets${sep}`)
    response.writeHead(200, {
      'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache'
    })
    if (request.method === 'HEAD') response.end()
    else createReadStream(file).pipe(response)
    return true
  }
}
