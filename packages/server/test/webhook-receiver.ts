import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A webhook receiver on 127.0.0.1 for tests: it records every request, answers as
 * `respond` says for each (in arrival order: `accept` 204, `slow` 204 after 50 ms, `fail`
 * 500, `hang` never),
 * and keeps what a receiver keeps: the deliveries it accepted, by id, with how many
 * times each id was accepted (a correct sender's retries never make that more than one
 * once accepted).
 */
export type ReceiverAnswer = 'accept' | 'slow' | 'fail' | 'hang'

export interface ReceivedRequest {
  readonly headers: IncomingHttpHeaders
  readonly body: string
  readonly answer: ReceiverAnswer
}

export interface WebhookReceiver {
  readonly url: string
  readonly port: number
  readonly requests: ReceivedRequest[]
  /** The most requests that were open (arrived, not yet answered or abandoned) at one time. */
  readonly maxOpen: number
  /** Accepted deliveries' bodies by delivery id (the Quire-Delivery header). */
  readonly accepted: Map<string, { body: string; headers: IncomingHttpHeaders; times: number }>
  /** Accepted bodies, parsed, in order of first acceptance. */
  events(): Array<{ id: string; event: string; room: string; stateVector?: string; createdAt: string }>
  close(): Promise<void>
}

export async function startWebhookReceiver(
  respond: (index: number, headers: IncomingHttpHeaders, body: string) => ReceiverAnswer = () => 'accept',
  port = 0
): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = []
  const accepted = new Map<string, { body: string; headers: IncomingHttpHeaders; times: number }>()
  const hanging = new Set<ServerResponse>()
  let open = 0
  let maxOpen = 0
  const server = createServer((request, response) => {
    maxOpen = Math.max(maxOpen, ++open)
    response.once('close', () => open--)
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const answer = respond(requests.length, request.headers, body)
      requests.push({ headers: request.headers, body, answer })
      if (answer === 'hang') {
        hanging.add(response)
        return
      }
      if (answer === 'fail') {
        response.writeHead(500).end('no')
        return
      }
      const accept = (): void => {
        const id = String(request.headers['quire-delivery'])
        const known = accepted.get(id)
        if (known) known.times++
        else accepted.set(id, { body, headers: request.headers, times: 1 })
        response.writeHead(204).end()
      }
      if (answer === 'slow') setTimeout(accept, 50)
      else accept()
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actual = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${actual}/hook`,
    port: actual,
    requests,
    get maxOpen() {
      return maxOpen
    },
    accepted,
    events: () => [...accepted.values()].map((a) => JSON.parse(a.body) as ReturnType<WebhookReceiver['events']>[number]),
    async close() {
      for (const response of hanging) response.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
