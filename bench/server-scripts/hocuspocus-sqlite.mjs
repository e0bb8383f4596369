// Starts Hocuspocus with its SQLite extension (better-sqlite3) on 127.0.0.1, on PORT
// or a free port, the database file given as the first argument. Everything else is the
// default, so stores stay debounced (2 s after the last change, at most 10 s).
import { SQLite } from '@hocuspocus/extension-sqlite'
import { Server } from '@hocuspocus/server'

const database = process.argv[2]
if (!database) {
  console.error('usage: hocuspocus-sqlite.mjs <database file>')
  process.exit(2)
}
const server = new Server({ port: Number(process.env.PORT ?? 0), address: '127.0.0.1', quiet: true, extensions: [new SQLite({ database })] })
await server.listen()
console.log(`listening on ${server.address.port}`)
