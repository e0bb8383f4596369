// The raw broadcast relay: each binary frame goes to every other socket of the
// same room (URL path), untouched. No decoding, no Yjs, no storage.
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

const rooms = new Map()
const http = createServer((_request, response) => response.end('relay'))
const wss = new WebSocketServer({ server: http })
wss.on('connection', (socket, request) => {
  const room = (request.url ?? '/').split('?')[0]
  let peers = rooms.get(room)
  if (!peers) rooms.set(room, (peers = new Set()))
  peers.add(socket)
  socket.on('message', (data, isBinary) => {
    for (const peer of peers) {
      if (peer !== socket && peer.readyState === 1) peer.send(data, { binary: isBinary })
    }
  })
  socket.on('close', () => {
    peers.delete(socket)
    if (peers.size === 0) rooms.delete(room)
  })
})
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`listening on ${http.address().port}`))
// Exit on SIGTERM instead of dying of it, so that `pnpm bench --profile` (node --cpu-prof)
// gets the relay's CPU profile too, for comparison with the servers'.
process.on('SIGTERM', () => process.exit(0))
