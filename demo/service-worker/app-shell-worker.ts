/**
 * The app-shell service worker, served as `/sw.js`.
 *
 * Every page of the demo is the same `index.html` (the room is read from the
 * URL), so caching that one file plus the hashed assets Vite emitted is enough
 * for any `/d/<room>` to open with no network. The document itself comes from
 * IndexedDB (the client's offline cache), never from here.
 *
 * - install: precache the shell; activate at once (the shell is versioned by
 *   the cache name, so an old page never mixes in new assets).
 * - navigations: network first, so a deploy is picked up on the next load;
 *   on failure, the cached `index.html`.
 * - hashed assets: cache first (their names change when their content does).
 * - everything else (the WebSocket, `/api/*`, other origins): untouched.
 *
 * `__QUIRE_PRECACHE__` and `__QUIRE_SHELL_VERSION__` are replaced at build time.
 */
// A module (see the export below), so that `self` can be narrowed to the service worker scope.
declare const self: ServiceWorkerGlobalScope
declare const __QUIRE_PRECACHE__: readonly string[]
declare const __QUIRE_SHELL_VERSION__: string

const CACHE_PREFIX = 'quire-shell-'
const CACHE_NAME = CACHE_PREFIX + __QUIRE_SHELL_VERSION__
const SHELL_URL = '/index.html'

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE_NAME)
      // `cache: 'reload'` skips the HTTP cache so the shell is the one just deployed.
      await cache.addAll(__QUIRE_PRECACHE__.map((url) => new Request(url, { cache: 'reload' })))
      await self.skipWaiting()
    })()
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys()
      await Promise.all(names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME).map((name) => caches.delete(name)))
      // Control pages opened before this worker existed, so their next reload is already offline-proof.
      await self.clients.claim()
    })()
  )
})

async function respondToNavigation(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE_NAME)
  try {
    const response = await fetch(request)
    // Every route renders the same shell: keep the freshest copy of it for offline use.
    if (response.ok && (response.headers.get('content-type') ?? '').includes('text/html')) {
      await cache.put(SHELL_URL, response.clone())
    }
    return response
  } catch (error) {
    const cached = await cache.match(SHELL_URL)
    if (cached) return cached
    throw error
  }
}

async function respondToAsset(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE_NAME)
  const cached = await cache.match(request)
  if (cached) return cached
  const response = await fetch(request)
  if (response.ok) await cache.put(request, response.clone())
  return response
}

function isShellAsset(url: URL): boolean {
  return url.pathname.startsWith('/assets/') || __QUIRE_PRECACHE__.includes(url.pathname)
}

self.addEventListener('fetch', (event) => {
  const { request } = event
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return
  if (request.mode === 'navigate') {
    event.respondWith(respondToNavigation(request))
  } else if (isShellAsset(url)) {
    event.respondWith(respondToAsset(request))
  }
})

export {}
