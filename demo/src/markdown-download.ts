/**
 * "Download as Markdown": the server renders the room's document
 * (`GET /api/v1/documents/<room>?format=markdown`, see the server README's
 * HTTP API), so none of the renderer ships in the page. The page's token, if
 * any, is sent as the API's bearer credential (a read token is enough); with
 * no access control configured the API is open, as the WebSocket is. What is
 * downloaded is what the server holds: edits not yet relayed are not in it.
 */
export async function fetchRoomMarkdown(serverUrl: string, room: string, token: string | null): Promise<string> {
  // The server's WebSocket address names its HTTP origin too (same host and port).
  const endpoint = new URL(`/api/v1/documents/${encodeURIComponent(room)}`, serverUrl.replace(/^ws/, 'http'))
  endpoint.searchParams.set('format', 'markdown')
  const response = await fetch(endpoint, token === null ? {} : { headers: { Authorization: `Bearer ${token}` } })
  if (response.status === 404) return ''
  if (!response.ok) {
    const body = await response.text().catch(() => '')
    throw new Error(`The server could not render the document (${response.status}${body ? `: ${body.slice(0, 200)}` : ''})`)
  }
  return response.text()
}

/** A file name for `room`: its characters that file systems dislike replaced. */
export function markdownFileName(room: string): string {
  return `${room.replace(/[^\w.-]+/g, '_')}.md`
}
