import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { defaultClientConditions, defineConfig, transformWithEsbuild, type Plugin } from 'vite'

const workerSource = fileURLToPath(new URL('./service-worker/app-shell-worker.ts', import.meta.url))
const publicDir = fileURLToPath(new URL('./public', import.meta.url))

/**
 * Emits `/sw.js` next to the built app, with the exact list of files to
 * precache (index.html and every emitted asset) and a version derived from
 * their names, so each build gets its own cache. Only in `vite build`: in dev
 * a service worker would serve stale modules and defeat hot reload.
 */
function appShellWorker(): Plugin {
  return {
    name: 'quire-app-shell-worker',
    apply: 'build',
    async generateBundle(_options, bundle) {
      // Public files (icon, manifest) are copied outside the bundle; index.html may be emitted after us.
      const publicFiles = await readdir(publicDir)
      const files = [...new Set(['index.html', ...publicFiles, ...Object.keys(bundle)])]
        // Source maps and the build manifest (read by scripts/bundle-size.mjs) are never fetched by a page.
        .filter((file) => !file.endsWith('.map') && !file.startsWith('.vite/'))
        .map((file) => '/' + file)
        .sort()
      // Versioned by content, so any change to the shell (even an icon) installs a fresh cache.
      const hash = createHash('sha256').update(files.join('\n'))
      for (const output of Object.values(bundle)) hash.update(output.type === 'chunk' ? output.code : output.source)
      for (const file of publicFiles) hash.update(await readFile(`${publicDir}/${file}`))
      const version = hash.digest('hex').slice(0, 12)
      const source = await readFile(workerSource, 'utf8')
      const { code } = await transformWithEsbuild(source, workerSource, {
        format: 'iife',
        target: 'es2022',
        minify: true,
        define: {
          __QUIRE_PRECACHE__: JSON.stringify(files),
          __QUIRE_SHELL_VERSION__: JSON.stringify(version)
        }
      })
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: code })
    }
  }
}

export default defineConfig({
  // Absolute asset URLs: every route (/d/<room>) serves the same index.html.
  base: '/',
  resolve: {
    // Workspace packages (@quire/client, @quire/protocol) are used from their TypeScript sources.
    conditions: ['source', ...defaultClientConditions]
  },
  plugins: [appShellWorker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    // dist/.vite/manifest.json: the chunk graph scripts/bundle-size.mjs measures each route's first load from.
    manifest: true,
    rollupOptions: {
      output: {
        // Editor and CRDT libraries change less often than the app: separate chunks keep caches warm.
        // Each editor's libraries get a chunk of their own, loaded only by its route (main.ts imports
        // the editors dynamically). What both editors use (w3c-keyname, 2 kB) needs a chunk of its own
        // too: Rollup pulls a manual chunk's unassigned dependencies into it, and the rich-text route
        // would then download all of CodeMirror for a key-name table.
        manualChunks(id) {
          if (/[\\/]node_modules[\\/].*[\\/]w3c-keyname[\\/]/.test(id)) return 'keyname'
          if (/[\\/]node_modules[\\/].*(prosemirror|@tiptap|linkifyjs|orderedmap|rope-sequence)/.test(id)) return 'tiptap'
          if (/[\\/]node_modules[\\/].*(@codemirror|@lezer|style-mod|crelt|@marijn|y-codemirror\.next)[\\/]/.test(id)) return 'codemirror'
          if (/[\\/]node_modules[\\/].*[\\/](yjs|y-protocols|y-websocket|y-indexeddb|lib0)[\\/]/.test(id)) return 'yjs'
          return undefined
        }
      }
    }
  },
  server: {
    host: '127.0.0.1',
    port: 5173
  },
  preview: {
    host: '127.0.0.1'
  }
})
