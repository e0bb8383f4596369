import type { UnsentBytesAccount } from './unsent-bytes-budget.js'

/**
 * Decides when a peer is too slow to keep. A socket whose unsent bytes (`bufferedAmount`)
 * go above `softBytes` gets `graceMs` to drain below it again (a mobile client on a bad
 * link, a big initial sync); if it is still above when the grace ends, or if it ever goes
 * above `hardBytes`, `onSlow` is called and the caller drops it. Without this, every
 * update relayed to a client that stopped reading would stay in server memory.
 *
 * `check` is called after each send; one timer per slow socket re-checks at the end of
 * the grace even if nothing else is sent. The bytes it reads there are noted in the
 * peer's account of the server-wide budget (unsent-bytes-budget.ts), so that budget
 * costs the send path no second read.
 */
export interface SlowConsumerWatch {
  check(): void
  /** Cancels the pending grace timer (on close). */
  stop(): void
}

/** The watched peer: its unsent bytes, and what to do when it is too slow. */
export interface WatchedConsumer {
  bufferedAmount(): number
  /** Drop the peer now (it is too slow, or holds too much of the server's memory). */
  onSlow(reason: string): void
}

export interface SlowConsumerWatchOptions {
  readonly softBytes: number
  readonly hardBytes: number
  readonly graceMs: number
  /** Where each check notes the peer's unsent bytes for the server-wide budget. */
  readonly unsent: UnsentBytesAccount
}

export function createSlowConsumerWatch(consumer: WatchedConsumer, options: SlowConsumerWatchOptions): SlowConsumerWatch {
  return new GraceWatch(consumer, options)
}

const recheck = (watch: GraceWatch): void => watch.recheck()

// A class, not closures: there is one per connection.
class GraceWatch implements SlowConsumerWatch {
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly consumer: WatchedConsumer,
    private readonly options: SlowConsumerWatchOptions
  ) {}

  check(): void {
    const { softBytes, hardBytes, graceMs } = this.options
    const buffered = this.consumer.bufferedAmount()
    this.options.unsent.note(buffered)
    if (buffered > hardBytes) {
      this.stop()
      this.consumer.onSlow(`slow consumer: more than ${hardBytes} bytes waiting to be sent`)
      return
    }
    if (buffered <= softBytes || this.timer !== null) return
    this.timer = setTimeout(recheck, graceMs, this)
    // A pending grace timer must not keep a closing process alive.
    this.timer.unref()
  }

  recheck(): void {
    this.timer = null
    if (this.consumer.bufferedAmount() > this.options.softBytes) {
      this.consumer.onSlow(`slow consumer: more than ${this.options.softBytes} bytes unsent for ${this.options.graceMs} ms`)
    }
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
