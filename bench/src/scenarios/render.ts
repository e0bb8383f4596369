import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import type { BenchContext, Scenario } from '../bench-context.js'
import { startCoreSpinner } from '../core-spinner.js'
import { createDataDir } from '../data-dir.js'
import { startEditRenderLoop } from '../edit-render-loop.js'
import { closeFanout, connectFanout, runStep, STEADY, stepTimingOf, type StepResult } from '../fanout-load.js'
import { formatBytes, formatMedianMax, formatMedianRange, formatNumber, formatP50P99, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import type { RunningServer } from '../server-process.js'
import { waitForServerIdle } from '../settle.js'
import { median } from '../stats.js'
import { AUTOMERGE_PAPER, readTrace, replayTrace } from '../trace.js'

/**
 * Rendering a large document on the server (`GET /api/v1/documents/<room>?format=html`),
 * and what it does to the relay. The automerge-paper trace's final text is put into the
 * `default` XML fragment as Tiptap would hold it (one paragraph per line) and uploaded
 * through the API, then:
 *
 * - cold: the first HTML render after a restart (the render worker starts, loads the
 *   renderer, builds the Y.Doc, renders);
 * - cached: GETs of the unchanged document one after another (answered from the render
 *   cache), and with the previous ETag (304);
 * - fan-out: a steady fan-out (rooms x clients, small inserts, as the fan-out scenario)
 *   at one fixed rate, measured without renders and while a loop edits the large
 *   document and renders it again (every render a cache miss, in the render worker),
 *   window after window in turn. The loop is another backend: it runs in a worker thread
 *   (edit-render-loop.ts), not in the event loop that times the fan-out's deliveries.
 *   Rendering is off the event loop, so the relay's p99 should not move beyond noise.
 *   A third window in each turn runs the fan-out beside a process that only spins on the
 *   server's core at the render thread's niceness (core-spinner.ts): what any busy thread
 *   on that core costs the relay, the floor of what renders there can cost it. A fourth
 *   runs it beside the same loop's writes without the renders (each round waits the
 *   median render time of the turn's render window instead): what the edits cost the
 *   relay, apart from rendering.
 *
 * Quire only: no other server here renders documents.
 */

const IDLE_TIMEOUT_MS = 120_000
const FANOUT = { docs: 10, clientsPerDoc: 5 }
/** Deliveries/s of the fan-out beside the renders: well under capacity, so that the p99 shows interference, not overload. */
const FANOUT_RATE = 5_000
const SMOKE_FANOUT_RATE = 1_000

function httpUrlOf(server: RunningServer): string {
  return server.url.replace(/^ws/, 'http')
}

/** The trace's text as Tiptap paragraphs in the `default` fragment, one update. */
function traceDocument(text: string): Uint8Array {
  const doc = new Y.Doc()
  const paragraphs = text.split('\n').map((line) => {
    const paragraph = new Y.XmlElement('paragraph')
    if (line !== '') paragraph.insert(0, [new Y.XmlText(line)])
    return paragraph
  })
  doc.getXmlFragment('default').insert(0, paragraphs)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

/** One more paragraph at the end: a new version of the document, whose render is a cache miss. */
function appendParagraph(n: number): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = 1_000_000 + n
  const paragraph = new Y.XmlElement('paragraph')
  doc.getXmlFragment('default').insert(0, [paragraph])
  paragraph.insert(0, [new Y.XmlText(`appended ${n}`)])
  return Y.encodeStateAsUpdate(doc)
}

async function post(server: RunningServer, room: string, update: Uint8Array): Promise<void> {
  const response = await fetch(`${httpUrlOf(server)}/api/v1/documents/${encodeURIComponent(room)}/updates`, { method: 'POST', body: update })
  if (response.status !== 200) throw new Error(`upload through the API answered ${response.status}: ${await response.text()}`)
}

async function renderOnce(server: RunningServer, room: string, etag?: string): Promise<{ ms: number; status: number; bytes: number; etag: string }> {
  const start = performance.now()
  const response = await fetch(`${httpUrlOf(server)}/api/v1/documents/${encodeURIComponent(room)}?format=html`, etag === undefined ? {} : { headers: { 'if-none-match': etag } })
  const body = await response.text()
  const ms = performance.now() - start
  if (response.status !== 200 && response.status !== 304) throw new Error(`GET ?format=html answered ${response.status}: ${body.slice(0, 200)}`)
  return { ms, status: response.status, bytes: Buffer.byteLength(body), etag: response.headers.get('etag') ?? '' }
}

interface Measurement {
  documentBytes: number
  htmlBytes: number
  cold: number[]
  cached: number[]
  notModified: number[]
  /** Windows of the fan-out alone and beside renders, taken in turn (alone first). */
  fanoutAlone: StepResult[]
  fanoutBesideSpinner: StepResult[]
  fanoutRendering: StepResult[]
  fanoutEditing: StepResult[]
  rendersDuringFanout: number[]
  /** Updates posted in the windows with renders, and in those with edits only. */
  postedRendering: number
  postedEditing: number
}

function repeatedReads(context: BenchContext): number {
  return context.scale.smoke ? 5 : 100
}

async function measure(context: BenchContext, kind: ServerKind, room: string, update: Uint8Array): Promise<Measurement> {
  const dataDir = createDataDir(context, `render-${kind.id}`)
  let server = await kind.start({ dataDir, profileDir: context.profileDir })
  const restart = async (): Promise<void> => {
    await waitForServerIdle(server, { quietMs: context.scale.settleMs, timeoutMs: IDLE_TIMEOUT_MS })
    await server.stop()
    server = await kind.start({ dataDir, profileDir: context.profileDir })
  }
  try {
    await post(server, room, update)
    const cold: number[] = []
    let htmlBytes = 0
    for (let repetition = 0; repetition < context.scale.repetitions; repetition++) {
      await restart()
      const first = await renderOnce(server, room)
      htmlBytes = first.bytes
      cold.push(first.ms)
    }
    const { etag } = await renderOnce(server, room)
    const cached: number[] = []
    const notModified: number[] = []
    for (let i = 0; i < repeatedReads(context); i++) cached.push((await renderOnce(server, room)).ms)
    for (let i = 0; i < repeatedReads(context); i++) {
      const read = await renderOnce(server, room, etag)
      if (read.status !== 304) throw new Error(`GET with the current ETag answered ${read.status}, not 304`)
      notModified.push(read.ms)
    }

    // The relay beside renders: the same fan-out step without, then with a render loop.
    const target = { id: kind.id, dialect: kind.dialect, urls: [server.url], processes: server, stop: async () => {} }
    const setup = await connectFanout(target, FANOUT.docs, FANOUT.clientsPerDoc, STEADY, 7)
    const rate = context.scale.smoke ? SMOKE_FANOUT_RATE : FANOUT_RATE
    const timing = stepTimingOf(context.scale)
    try {
      // Alone and beside renders in turn, several times: the fan-out's p99 moves from one
      // window to the next by itself, and that spread is the noise renders are held to.
      const fanoutAlone: StepResult[] = []
      const fanoutBesideSpinner: StepResult[] = []
      const fanoutRendering: StepResult[] = []
      const fanoutEditing: StepResult[] = []
      const rendersDuringFanout: number[] = []
      let postedRendering = 0
      let postedEditing = 0
      // More paragraphs than any run appends (about 20 edit-and-render rounds a second, and as many edits without renders).
      const appended = Array.from({ length: context.scale.smoke ? 200 : 8000 }, (_, n) => appendParagraph(n))
      let next = 0
      for (let window = 0; window < context.scale.repetitions; window++) {
        fanoutAlone.push(await runStep(setup, rate, timing))
        const spinner = startCoreSpinner()
        try {
          fanoutBesideSpinner.push(await runStep(setup, rate, timing))
        } finally {
          await spinner.stop()
        }
        const loop = startEditRenderLoop(httpUrlOf(server), room, appended.slice(next))
        let renderMs = 0
        try {
          fanoutRendering.push(await runStep(setup, rate, timing))
        } finally {
          const { renders, posted } = await loop.stop()
          rendersDuringFanout.push(...renders)
          renderMs = renders.length > 0 ? median(renders) : 0
          next += posted
          postedRendering += posted
        }
        const edits = startEditRenderLoop(httpUrlOf(server), room, appended.slice(next), renderMs)
        try {
          fanoutEditing.push(await runStep(setup, rate, timing))
        } finally {
          const { posted } = await edits.stop()
          next += posted
          postedEditing += posted
        }
      }
      return {
        documentBytes: update.byteLength,
        htmlBytes,
        cold,
        cached,
        notModified,
        fanoutAlone,
        fanoutBesideSpinner,
        fanoutRendering,
        fanoutEditing,
        rendersDuringFanout,
        postedRendering,
        postedEditing
      }
    } finally {
      await closeFanout(setup)
    }
  } finally {
    await server.stop()
  }
}

/** The windows' p50 and p99, each as the median and (for several windows) the lowest and highest. */
const stepsOf = (steps: readonly StepResult[]): string => `${formatMedianRange(steps.map((step) => step.p50))} / ${formatMedianRange(steps.map((step) => step.p99))}`

export const renderScenario: Scenario = {
  name: 'render',
  description: 'rendering a large document to HTML on the server (cold, cached, 304) and the relay\'s fan-out p99 while renders run',
  run: async (context) => {
    const kind = context.servers.find((server) => server.id === 'quire')
    if (kind === undefined) return []
    const loaded = readTrace(AUTOMERGE_PAPER, context.scale.coldLoadPatches, { allowSynthetic: context.scale.smoke })
    const trace = replayTrace(loaded, 1)
    const update = traceDocument(trace.text)
    const paragraphs = trace.text.split('\n').length
    context.log(`render: ${AUTOMERGE_PAPER.id} (${formatNumber(loaded.patches.length)} patches) as ${formatNumber(paragraphs)} paragraphs, ${kind.label}`)
    const result = await measure(context, kind, AUTOMERGE_PAPER.id, update)
    context.log(
      `  HTML cold ${formatMedianMax(result.cold)} ms, cached ${formatP50P99(result.cached)} ms, 304 ${formatP50P99(result.notModified)} ms; fan-out p50/p99 ${stepsOf(result.fanoutAlone)} ms alone, ${stepsOf(result.fanoutBesideSpinner)} ms beside a spinner, ${stepsOf(result.fanoutRendering)} ms with ${result.rendersDuringFanout.length} renders, ${stepsOf(result.fanoutEditing)} ms beside edits only (${result.postedEditing} posted, against ${result.postedRendering} with renders)`
    )
    const rate = context.scale.smoke ? SMOKE_FANOUT_RATE : FANOUT_RATE
    const table: Table = {
      title: `Rendering a document on the server: ${AUTOMERGE_PAPER.id} as HTML`,
      notes: [
        `${loaded.synthetic ? 'A synthetic typing session standing in for ' : ''}${AUTOMERGE_PAPER.description}: ${formatNumber(loaded.patches.length)} patches, ${formatNumber(trace.text.length)} characters, put into the \`default\` fragment as ${formatNumber(paragraphs)} paragraphs (one per line): one update of ${formatBytes(result.documentBytes)}, ${formatBytes(result.htmlBytes)} of HTML.`,
        `ms at the client, until the whole body arrived. Cold = the first render after a restart (the render worker starts; median of ${context.scale.repetitions}, and the slowest). Cached and 304 = ${repeatedReads(context)} GETs one after another, p50 / p99.`,
        `Fan-out: ${FANOUT.docs} rooms x ${FANOUT.clientsPerDoc} clients, steady 8-character inserts at ${formatNumber(rate)} deliveries/s, ${result.fanoutAlone.length} measured windows alone, as many beside a process that only spins on the server's core at the render thread's niceness (19: what any busy thread on that core costs the relay), as many while a loop (another backend, in a thread of its own) appends a paragraph to the large document through the API and renders it again, and as many beside the same loop's edits alone (each round waits the median render time of that turn's render window instead of rendering: ${formatNumber(result.postedEditing)} edits posted, against ${formatNumber(result.postedRendering)} beside renders), taken in turn; p50 / p99 per window, median (lowest–highest) (${result.rendersDuringFanout.length} renders, p50 / p99 ${formatP50P99(result.rendersDuringFanout)} ms each, every one a cache miss).`
      ],
      columns: ['read', 'ms p50 / p99 (cold: median, max)'],
      rows: [
        ['GET ?format=html, cold', formatMedianMax(result.cold)],
        ['GET ?format=html, cached', formatP50P99(result.cached)],
        ['GET ?format=html with If-None-Match (304)', formatP50P99(result.notModified)],
        ['fan-out delivery, no renders', stepsOf(result.fanoutAlone)],
        ['fan-out delivery, beside a spinning thread on the server\'s core (nice 19)', stepsOf(result.fanoutBesideSpinner)],
        ['fan-out delivery, renders in parallel', stepsOf(result.fanoutRendering)],
        ['fan-out delivery, beside the same edits without renders', stepsOf(result.fanoutEditing)]
      ]
    }
    return [table]
  }
}
