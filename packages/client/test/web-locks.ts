/**
 * The Web Locks API (`navigator.locks`) as browsers implement it for exclusive locks in
 * one origin: `request(name, options, callback)` holds the lock until the callback's
 * promise settles, waiting for the current holder; `query()` lists held locks. Node 20
 * has no `navigator.locks`; the tests of tabs sharing one IndexedDB install this one, and
 * the e2e tests run the browser's own.
 */
export function installWebLocks(): () => void {
  const queues = new Map<string, Array<() => void>>()
  const held = new Set<string>()
  const locks = {
    request(name: string, _options: { mode: 'exclusive' }, callback: () => Promise<void>): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const run = (): void => {
          held.add(name)
          callback().then(resolve, reject).finally(() => {
            held.delete(name)
            const next = queues.get(name)?.shift()
            if (next) next()
          })
        }
        if (!held.has(name)) run()
        else {
          const queue = queues.get(name) ?? []
          queue.push(run)
          queues.set(name, queue)
        }
      })
    },
    async query(): Promise<{ held: Array<{ name: string }> }> {
      return { held: [...held].map((name) => ({ name })) }
    }
  }
  const target = globalThis as { navigator?: { locks?: unknown } }
  const hadNavigator = 'navigator' in globalThis
  const previous = target.navigator?.locks
  if (target.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true })
  Object.defineProperty(target.navigator, 'locks', { value: locks, configurable: true, writable: true })
  return () => {
    if (!hadNavigator) Reflect.deleteProperty(globalThis, 'navigator')
    else Object.defineProperty(target.navigator, 'locks', { value: previous, configurable: true, writable: true })
  }
}
