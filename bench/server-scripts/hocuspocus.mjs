// Starts Hocuspocus with its default configuration on 127.0.0.1, on PORT or a free port.
import { Server } from '@hocuspocus/server'

const server = new Server({ port: Number(process.env.PORT ?? 0), address: '127.0.0.1', quiet: true })
await server.listen()
console.log(`listening on ${server.address.port}`)
