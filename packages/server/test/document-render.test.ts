import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Node as ProseMirrorNode } from '@tiptap/pm/model'
import { createServer, createTokenAuthenticator, signRoomToken, type ServerOptions } from '@quire/server'
import { createMarkdownParser, createRenderSchema } from '@quire/render'
import { documentUpdate, hostileDocument, starterKitDocument } from './render-fixtures.js'
import { scrapeMetrics } from './scrape-metrics.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Documents rendered by the server (`GET /api/v1/documents/<room>?format=...`) against a
 * live server on port 0 with LevelDB in a temp dir: the demo's schema rendered to HTML,
 * Markdown and text, HTML that is safe to embed, Markdown that reads back as the same
 * document, unknown nodes reported, renders cached per document version (ETag/304), the
 * read-only page and its access, and a relay that keeps relaying while a large render runs.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Live {
  readonly http: string
  readonly ws: string
  readonly workersStarted: () => number
}

async function startLive(options: ServerOptions = {}): Promise<Live> {
  const dir = await mkdtemp(join(tmpdir(), 'quire-render-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  let workersStarted = 0
  const server = createServer({ dataDir: dir, onWorkerStarted: () => workersStarted++, ...options })
  const { url } = await server.listen(0, '127.0.0.1')
  cleanups.push(() => server.close())
  return { http: url, ws: url.replace('http', 'ws'), workersStarted: () => workersStarted }
}

const documentUrl = (live: Live, room: string, query = ''): string => `${live.http}/api/v1/documents/${encodeURIComponent(room)}${query}`

async function upload(live: Live, room: string, update: Uint8Array, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(documentUrl(live, room, '/updates'), { method: 'POST', body: update, headers })
  expect(response.status, await response.clone().text()).toBe(200)
}

async function rendered(live: Live, room: string, query: string, headers: Record<string, string> = {}): Promise<{ body: string; response: Response }> {
  const response = await fetch(documentUrl(live, room, query), { headers })
  const body = await response.text()
  expect(response.status, body).toBe(200)
  return { body, response }
}

const STARTER_KIT_HTML =
  '<h1>Title</h1><h3>Section</h3>' +
  '<p><strong>bold</strong> and <em>italic</em> and <s>struck</s> and <u>underlined</u> and <code>code</code> and a ' +
  '<a target="_blank" rel="noopener noreferrer nofollow" href="https://example.com/a?b=c">link</a> and ' +
  '<a target="_blank" rel="noopener noreferrer nofollow" href="mailto:someone@example.com">mail</a></p>' +
  '<p>line one<br/>line two</p>' +
  '<blockquote><p>quoted</p></blockquote>' +
  '<ul><li><p>first</p><ul><li><p>nested bullet</p></li></ul></li><li><p>second</p><ol><li><p>nested number</p></li></ol></li></ul>' +
  '<ol start="3"><li><p>three</p></li><li><p>four</p></li></ol>' +
  '<pre><code class="language-ts">const a = 1\nconst b = `x`</code></pre>' +
  '<hr/>' +
  '<p>the end</p>'

const STARTER_KIT_MARKDOWN = `# Title

### Section

**bold** and *italic* and ~~struck~~ and underlined and \`code\` and a [link](https://example.com/a?b=c) and [mail](mailto:someone@example.com)

line one\\
line two

> quoted

- first

  - nested bullet

- second

  1. nested number

3. three

4. four

\`\`\`ts
const a = 1
const b = \`x\`
\`\`\`

---

the end`

describe('rendering the demo schema', () => {
  it('renders every StarterKit node and mark as HTML, Markdown and text', async () => {
    const live = await startLive()
    await upload(live, 'kit', documentUpdate(starterKitDocument()))
    const html = await rendered(live, 'kit', '?format=html')
    expect(html.body).toBe(STARTER_KIT_HTML)
    expect(html.response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(html.response.headers.get('quire-unknown-nodes')).toBeNull()
    const markdown = await rendered(live, 'kit', '?format=markdown')
    expect(markdown.body).toBe(STARTER_KIT_MARKDOWN)
    expect(markdown.response.headers.get('content-type')).toBe('text/markdown; charset=utf-8')
    const text = await rendered(live, 'kit', '?format=text')
    expect(text.body).toContain('bold and italic and struck and underlined and code and a link and mail')
    expect(text.body).toContain('line one\nline two')
    expect(text.body).not.toContain('<')
    const json = JSON.parse((await rendered(live, 'kit', '?format=prosemirror-json')).body) as { doc: unknown; unknownNodes: string[] }
    expect(json.unknownNodes).toEqual([])
    const schema = createRenderSchema().schema
    expect(ProseMirrorNode.fromJSON(schema, json.doc).eq(ProseMirrorNode.fromJSON(schema, starterKitDocument()))).toBe(true)
  })

  it('writes Markdown that prosemirror-markdown reads back as the same document (all but underline)', async () => {
    const live = await startLive()
    const original = starterKitDocument({ underline: false })
    await upload(live, 'round-trip', documentUpdate(original))
    const { body } = await rendered(live, 'round-trip', '?format=markdown')
    const schema = createRenderSchema().schema
    const parsed = createMarkdownParser(schema).parse(body)
    expect(parsed.toJSON()).toEqual(ProseMirrorNode.fromJSON(schema, original).toJSON())
  })

  it('escapes text and attributes, drops unsafe links and never writes script or event handlers', async () => {
    const live = await startLive()
    await upload(live, 'hostile', documentUpdate(hostileDocument()))
    // An attribute the schema does not declare, written straight into the Y.XmlElement as a client could.
    const doc = new Y.Doc()
    const element = new Y.XmlElement('paragraph')
    element.setAttribute('onclick', 'alert(1)')
    element.insert(0, [new Y.XmlText('clickable?')])
    doc.getXmlFragment('default').insert(0, [element])
    await upload(live, 'hostile', Y.encodeStateAsUpdate(doc))
    const { body, response } = await rendered(live, 'hostile', '?format=html')
    expect(body).not.toMatch(/<script/i)
    expect(body).not.toMatch(/\son\w+=/i)
    expect(body).not.toMatch(/javascript:|java\tscript|data:text/i)
    expect(body).toContain('&lt;script&gt;alert("x")&lt;/script&gt; &amp; \'quotes\' "double"')
    // Unsafe links keep their text, without the link.
    expect(body).toContain('js link tabbed js data link ')
    expect(body).toContain('href="https://example.com/&quot;onmouseover=&quot;alert(1)"')
    expect(body).toContain('<code class="language-&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">&lt;/code&gt;&lt;script&gt;</code>')
    expect(body).toContain('<p>clickable?</p>')
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    const markdown = await rendered(live, 'hostile', '?format=markdown')
    expect(markdown.body).not.toMatch(/javascript:|data:text/i)
    expect(markdown.body).toContain('\\<script\\>')
  })

  it('reports a node and a mark the schema does not know, and keeps their text', async () => {
    const live = await startLive()
    const doc = new Y.Doc()
    const callout = new Y.XmlElement('callout')
    const inside = new Y.XmlText()
    inside.insert(0, 'inside the callout')
    inside.insert(0, 'glowing ', { glow: {} })
    callout.insert(0, [inside])
    doc.getXmlFragment('default').insert(0, [callout])
    await upload(live, 'unknown', Y.encodeStateAsUpdate(doc))
    const html = await rendered(live, 'unknown', '?format=html')
    expect(html.response.headers.get('quire-unknown-nodes')).toBe('callout,glow')
    expect(html.body).toBe('<p>glowing inside the callout</p>')
    const markdown = await rendered(live, 'unknown', '?format=markdown')
    expect(markdown.response.headers.get('quire-unknown-nodes')).toBe('callout,glow')
    expect(markdown.body).toBe('glowing inside the callout')
    const json = JSON.parse((await rendered(live, 'unknown', '?format=prosemirror-json')).body) as { doc: { content: { type: string }[] }; unknownNodes: string[] }
    expect(json.unknownNodes).toEqual(['callout', 'glow'])
    expect(json.doc.content[0]?.type).toBe('callout')
  })

  it('renders with the extensions module it is given: its nodes are known, the others still reported', async () => {
    const live = await startLive({ renderExtensions: new URL('./fixtures/callout-extensions.mjs', import.meta.url) })
    const doc = new Y.Doc()
    const callout = new Y.XmlElement('callout')
    doc.getXmlFragment('default').insert(0, [callout, new Y.XmlElement('widget')])
    const paragraph = new Y.XmlElement('paragraph')
    callout.insert(0, [paragraph])
    paragraph.insert(0, [new Y.XmlText('note')])
    await upload(live, 'custom', Y.encodeStateAsUpdate(doc))
    const html = await rendered(live, 'custom', '?format=html')
    expect(html.body).toBe('<aside class="callout"><p>note</p></aside>')
    expect(html.response.headers.get('quire-unknown-nodes')).toBe('widget')
  })

  it('renders a Y.Text field as text and refuses a Y.Map', async () => {
    const live = await startLive()
    const doc = new Y.Doc()
    doc.getText('notes').insert(0, 'first <line>\nsecond')
    doc.getMap('meta').set('a', 1)
    await upload(live, 'fields', Y.encodeStateAsUpdate(doc))
    expect((await rendered(live, 'fields', '?format=text&field=notes')).body).toBe('first <line>\nsecond')
    expect((await rendered(live, 'fields', '?format=html&field=notes')).body).toBe('<p>first &lt;line&gt;</p><p>second</p>')
    const map = await fetch(documentUrl(live, 'fields', '?format=html&field=meta'))
    expect(map.status).toBe(422)
    expect(((await map.json()) as { error: { code: string } }).error.code).toBe('not-renderable')
    const bad = await fetch(documentUrl(live, 'fields', '?format=pdf'))
    expect(bad.status).toBe(400)
  })
})

describe('the render cache', () => {
  it('renders an unchanged document once, answers 304 to its ETag, and renders again after an edit', async () => {
    const live = await startLive()
    await upload(live, 'cached', documentUpdate(starterKitDocument()))
    const first = await rendered(live, 'cached', '?format=html')
    const etag = first.response.headers.get('etag')
    expect(etag).toMatch(/^"html-/)
    const second = await rendered(live, 'cached', '?format=html')
    expect(second.body).toBe(first.body)
    expect(second.response.headers.get('etag')).toBe(etag)
    const metrics = await scrapeMetrics(`${live.http}/metrics`)
    expect(metrics.value('quire_renders_total', { cache: 'miss' })).toBe(1)
    expect(metrics.value('quire_renders_total', { cache: 'hit' })).toBe(1)
    const notModified = await fetch(documentUrl(live, 'cached', '?format=html'), { headers: { 'if-none-match': etag ?? '' } })
    expect(notModified.status).toBe(304)
    // Another format of the same version is another tag.
    const markdown = await rendered(live, 'cached', '?format=markdown')
    expect(markdown.response.headers.get('etag')).not.toBe(etag)

    const more = new Y.Doc()
    const p = new Y.XmlElement('paragraph')
    p.insert(0, [new Y.XmlText('added later')])
    more.getXmlFragment('default').insert(0, [p])
    await upload(live, 'cached', Y.encodeStateAsUpdate(more))
    const changed = await fetch(documentUrl(live, 'cached', '?format=html'), { headers: { 'if-none-match': etag ?? '' } })
    expect(changed.status).toBe(200)
    expect(await changed.text()).toContain('added later')
  })
})

describe('the read-only page', () => {
  it('serves a whole HTML page to a read token in the URL, and nothing to a request without one', async () => {
    const secret = 'render-test-secret-that-is-long-enough-for-hs256!!'
    const live = await startLive({ authenticate: createTokenAuthenticator({ secret }) })
    const writer = await signRoomToken({ user: 'w', room: 'page', access: 'write' }, { secret, ttlSeconds: 600 })
    const reader = await signRoomToken({ user: 'r', room: 'page', access: 'read' }, { secret, ttlSeconds: 600 })
    await upload(live, 'page', documentUpdate(starterKitDocument()), { authorization: `Bearer ${writer}` })
    expect((await fetch(documentUrl(live, 'page', '?format=html&page=1'))).status).toBe(401)
    const page = await rendered(live, 'page', `?format=html&page=1&token=${reader}`)
    expect(page.body).toMatch(/^<!doctype html>/)
    expect(page.body).toContain('<title>page</title>')
    expect(page.body).toContain(STARTER_KIT_HTML)
    expect(page.body).not.toMatch(/<script/i)
    expect(page.response.headers.get('referrer-policy')).toBe('no-referrer')
    // A token in the URL opens only the page; the API's other reads want the header.
    expect((await fetch(documentUrl(live, 'page', `?format=html&token=${reader}`))).status).toBe(401)
    expect((await fetch(documentUrl(live, 'page', '?format=markdown'), { headers: { authorization: `Bearer ${reader}` } })).status).toBe(200)
  })
})

describe('rendering off the event loop', () => {
  it('keeps relaying between clients while a large document renders, in the render worker', async () => {
    const live = await startLive()
    // About 40,000 paragraphs (2.4 MB of text): a render of seconds on one thread.
    const big = new Y.Doc()
    const fragment = big.getXmlFragment('default')
    const paragraphs: Y.XmlElement[] = []
    for (let i = 0; i < 40_000; i++) {
      const p = new Y.XmlElement('paragraph')
      p.insert(0, [new Y.XmlText(`paragraph ${i} of the large document, with some words in it`)])
      paragraphs.push(p)
    }
    fragment.insert(0, paragraphs)
    await upload(live, 'large', Y.encodeStateAsUpdate(big))

    const a: StockClient = createStockClient(live.ws, 'chat')
    const b: StockClient = createStockClient(live.ws, 'chat')
    cleanups.push(() => a.destroy(), () => b.destroy())
    await Promise.all([a.synced(), b.synced()])
    const workersBefore = live.workersStarted()

    let renderDone = false
    const render = fetch(documentUrl(live, 'large', '?format=html')).then(async (response) => {
      const body = await response.text()
      renderDone = true
      return { status: response.status, bytes: body.length }
    })
    // Round trips through the relay (a writes, b receives) completed while the render is in flight.
    let roundTrips = 0
    while (!renderDone) {
      a.doc.getArray<number>('n').push([roundTrips])
      const expected = roundTrips + 1
      await waitUntil(() => renderDone || b.doc.getArray('n').length >= expected, { timeoutMs: 30_000 })
      if (b.doc.getArray('n').length >= expected) roundTrips++
    }
    const outcome = await render
    expect(outcome.status).toBe(200)
    expect(outcome.bytes).toBeGreaterThan(2_000_000)
    expect(roundTrips).toBeGreaterThanOrEqual(10)
    expect(live.workersStarted()).toBe(workersBefore + 1)
  }, 120_000)
})
