/**
 * Registers the app-shell service worker (public URL `/sw.js`, generated at
 * build time by vite.config.ts) so that a page opened once opens again with
 * no network. Dev mode skips it: a cached shell would fight hot reload.
 */
export async function registerAppShellWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!('serviceWorker' in navigator)) return null
  try {
    return await navigator.serviceWorker.register('/sw.js', { scope: '/' })
  } catch (error) {
    // The editor works without it; only the offline reopen is lost. Say so in the console.
    console.warn('quire: service worker registration failed, offline reopen disabled', error)
    return null
  }
}
