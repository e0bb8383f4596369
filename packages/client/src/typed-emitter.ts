/**
 * A minimal typed event emitter: `on` returns the matching unsubscribe function, so
 * a UI effect can subscribe and clean up in one line.
 */
export class TypedEmitter<Events extends { [Name in keyof Events]: (...args: never[]) => void }> {
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>()

  on<Name extends keyof Events>(name: Name, listener: Events[Name]): () => void {
    let set = this.listeners.get(name)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(name, set)
    }
    set.add(listener)
    return () => this.off(name, listener)
  }

  off<Name extends keyof Events>(name: Name, listener: Events[Name]): void {
    this.listeners.get(name)?.delete(listener)
  }

  listenerCount(name: keyof Events): number {
    return this.listeners.get(name)?.size ?? 0
  }

  emit<Name extends keyof Events>(name: Name, ...args: Parameters<Events[Name]>): void {
    const set = this.listeners.get(name)
    if (set === undefined) return
    // Copy first: a listener may unsubscribe itself (or others) while we iterate.
    for (const listener of [...set]) (listener as (...a: Parameters<Events[Name]>) => void)(...args)
  }

  clear(): void {
    this.listeners.clear()
  }
}
