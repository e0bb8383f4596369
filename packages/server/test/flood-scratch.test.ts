import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { it } from 'vitest'
import * as Y from 'yjs'
import { WebSocket } from 'ws'
import { encodeMessage } from '@quire/protocol'
import { spawnQuireServer } from '@quire/testkit'
import { createStockClient } from './stock-client.js'

it('scratch', async () => {
  const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-flood-'))
  const server = await spawnQuireServer({ dataDir, args: ['--max-messages-per-second', '100000000', '--max-bytes-per-second', '100000000000', ...(process.env['XARGS'] ?? '').split(' ').filter(Boolean)] })
  const a = createStockClient(server.url, 'f'); const b = createStockClient(server.url, 'f')
  await a.synced(); await b.synced()
  const ws = new WebSocket(`${server.url}/f`, { perMessageDeflate: false })
  await new Promise((r) => ws.once('open', r))
  const doc = new Y.Doc(); const text = doc.getText('flood'); let pending: Uint8Array | null = null
  doc.on('update', (u: Uint8Array) => (pending = u))
  let frames = 0; let running = true
  const loop = (async () => { while (running) { for (let i = 0; i < 100 && ws.bufferedAmount < 1 << 20; i++) { text.insert(text.length, 'x'); ws.send(encodeMessage({ type: 'sync-update', update: pending! })); frames++ } await new Promise((r) => setImmediate(r)) } })()
  const started = Date.now()
  for (let i = 0; i < 8; i++) {
    const t0 = Date.now()
    a.doc.getMap('p').set('k' + i, i)
    while (b.doc.getMap('p').get('k' + i) !== i && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 5))
    const h = await (await fetch(`${server.httpUrl}/healthz`)).json()
    console.log(`ping${i} ${Date.now() - t0}ms frames=${frames} flood text at b=${b.doc.getText('flood').length} health=${JSON.stringify(h)} t=${Date.now() - started}`)
  }
  running = false; await loop; ws.close(); a.destroy(); b.destroy()
  console.log(server.output().slice(-2000))
  await server.kill('SIGKILL')
}, 300000)
