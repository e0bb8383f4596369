// Starts Hocuspocus with its default configuration on a free port of 127.0.0.1.
import { Server } from '@hocuspocus/server'

const server = new Server({ port: 0, address: '127.0.0.1', quiet: true })
await server.listen()
console.log(`listening on ${server.address.port}`)
