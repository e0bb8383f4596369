/**
 * Decides when a peer is too slow to keep. A socket whose unsent bytes (`bufferedAmount`)
 * go above `softBytes` gets `graceMs` to drain below it again (a mobile client on a bad
 * link, a big initial sync); if it is still above when the grace ends, or if it ever goes
 * above `hardBytes`, `onSlow` is called and the caller closes it. Without this, every
 * update relayed to a client that stopped reading would stay in server memory.
 *
 * `check` is called after each send; one timer per slow socket re-checks at the end of
 * the grace even if nothing else is sent.
 */
export interface SlowConsumerWatch {
  check(): void
  /** Cancels the pending grace timer (on close). */
  stop(): void
}

export interface SlowConsumerWatchOptions {
  readonly bufferedAmount: () => number
  readonly softBytes: number
  readonly hardBytes: number
  readonly graceMs: number
  readonly onSlow: (reason: string) => void
}

export function createSlowConsumerWatch(options: SlowConsumerWatchOptions): SlowConsumerWatch {
  let timer: ReturnType<typeof setTimeout> | null = null

  const stop = (): void => {
    if (timer !== null) clearTimeout(timer)
    timer = null
  }

  const check = (): void => {
    const buffered = options.bufferedAmount()
    if (buffered > options.hardBytes) {
      stop()
      options.onSlow(`slow consumer: more than ${options.hardBytes} bytes waiting to be sent`)
      return
    }
    if (buffered <= options.softBytes || timer !== null) return
    timer = setTimeout(() => {
      timer = null
      if (options.bufferedAmount() > options.softBytes) {
        options.onSlow(`slow consumer: more than ${options.softBytes} bytes unsent for ${options.graceMs} ms`)
      }
    }, options.graceMs)
    // A pending grace timer must not keep a closing process alive.
    timer.unref()
  }

  return { check, stop }
}
