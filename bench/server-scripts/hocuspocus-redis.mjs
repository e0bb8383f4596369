// Starts Hocuspocus with its Redis extension on a free port of 127.0.0.1: one of
// several instances that relay to each other over Redis pub/sub. Arguments: the Redis
// URL (redis://host:port/db) and the key prefix (the extension's `prefix`). No database
// extension: nothing is persisted, as in the plain Hocuspocus row of the fan-out.
import { Redis } from '@hocuspocus/extension-redis'
import { Server } from '@hocuspocus/server'

const [url, prefix] = process.argv.slice(2)
if (!url || !prefix) {
  console.error('usage: hocuspocus-redis.mjs <redis url> <key prefix>')
  process.exit(2)
}
const redis = new URL(url)
const db = Number(redis.pathname.slice(1) || '0')
const server = new Server({
  port: 0,
  address: '127.0.0.1',
  quiet: true,
  extensions: [new Redis({ host: redis.hostname, port: Number(redis.port || '6379'), prefix, options: { db } })]
})
await server.listen()
console.log(`listening on ${server.address.port}`)
