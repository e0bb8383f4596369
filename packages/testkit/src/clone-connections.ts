/**
 * How many WebSocket connections each clone holds now, from its `GET /healthz`
 * (`connections`), or null for a clone that does not answer (killed). Tests behind a
 * balancer find which clone a client landed on by watching these counts.
 */
export async function readConnectionCounts(clones: readonly { readonly httpUrl: string }[]): Promise<(number | null)[]> {
  return Promise.all(
    clones.map(async (clone) => {
      try {
        const response = await fetch(`${clone.httpUrl}/healthz`)
        const body = (await response.json()) as { connections?: unknown }
        if (typeof body.connections !== 'number') throw new Error(`${clone.httpUrl}/healthz has no connection count: ${JSON.stringify(body)}`)
        return body.connections
      } catch (error) {
        if (error instanceof TypeError) return null // fetch failed: nothing listens there
        throw error
      }
    })
  )
}
