/**
 * A server's budget for unsent bytes, summed over all its peers. Each peer's slow-consumer
 * watch bounds that peer alone; many peers each just under their own bound (a thousand
 * phones on a bad link opening a large document) can still hold more than the process
 * can afford. When the sum passes `maxBytes`, the peers with the largest backlogs are
 * dropped first, until it is back under: the fewest peers lose their connection for the
 * most memory freed.
 *
 * The sum counts what each peer has yet to receive, not memory: an update relayed to a
 * thousand peers of a room is one Buffer (wire-frames.ts) but counts a thousand times
 * until each socket has taken it. So a sum over the budget is acted on only if it stays
 * over for `SETTLE_MS`: a burst that healthy peers are reading right now (a large paste
 * in a large room, a crowd opening a document) drains in that time; peers that stopped
 * reading do not, and the largest of them go. Waiting adds little to what the server
 * holds: relays to stalled peers grow by what comes in during the wait (each connection's
 * rate is limited), and the sync replies of peers joining in that time were allocated
 * before any budget could refuse them.
 *
 * Cheap on the send path: every peer has an account, and the slow-consumer watch notes the
 * peer's unsent bytes in it where it reads them anyway, after each send. A note adjusts a
 * running total (O(1), no allocation) and, the first time it passes the budget, starts the
 * settle timer; no timer runs while the total is under. When it fires, every account is
 * read again (a peer that drained since its last send still counts what it held then, so
 * the running total can only be too high) and, if the exact sum is still over, the
 * largest backlogs are dropped until it is back under. Dropping from a timer also keeps
 * it out of a room's fan-out loop.
 */
export interface UnsentBytesBudget {
  readonly maxBytes: number
  /** An account for one peer; close it when the peer leaves. */
  open(peer: BudgetedPeer): UnsentBytesAccount
  /** The exact unsent bytes of all open accounts now (reads every one: not for the send path). */
  measure(): number
}

/** A peer as the budget sees it: its unsent bytes, and how to drop it. */
export interface BudgetedPeer {
  bufferedAmount(): number
  onSlow(reason: string): void
}

export interface UnsentBytesAccount {
  /** The peer's unsent bytes now (its `bufferedAmount`, just read). */
  note(unsentBytes: number): void
  /** The peer left: its bytes no longer count. Closing twice is harmless. */
  close(): void
}

export function createUnsentBytesBudget(maxBytes: number): UnsentBytesBudget {
  if (!(maxBytes > 0)) throw new RangeError(`the unsent-bytes budget must be a positive number of bytes, got ${String(maxBytes)}`)
  return new Budget(maxBytes)
}

/**
 * How long the sum must stay over the budget before peers are dropped. A second is many
 * round trips on any link a client edits over, so a healthy reader takes a burst in that
 * time, and it is short next to the slow-consumer grace (10 s by default): the budget is
 * the valve for when too many peers are slow at once.
 */
const SETTLE_MS = 1000

const enforce = (budget: Budget): void => budget.enforce()

const byLargestBacklog = (a: Account, b: Account): number => b.noted - a.noted

class Budget implements UnsentBytesBudget {
  private readonly accounts = new Set<Account>()
  /** The sum of every open account's `noted`: at least the bytes unsent now. */
  private total = 0
  /** Pending while the running total is over the budget. */
  private settle: ReturnType<typeof setTimeout> | null = null

  constructor(readonly maxBytes: number) {}

  open(peer: BudgetedPeer): UnsentBytesAccount {
    const account = new Account(this, peer)
    this.accounts.add(account)
    return account
  }

  measure(): number {
    let total = 0
    for (const account of this.accounts) {
      account.noted = account.peer.bufferedAmount()
      total += account.noted
    }
    this.total = total
    return total
  }

  noted(account: Account, unsentBytes: number): void {
    this.total += unsentBytes - account.noted
    account.noted = unsentBytes
    if (this.total > this.maxBytes && this.settle === null) {
      this.settle = setTimeout(enforce, SETTLE_MS, this)
      // A pending settle must not keep a closing process alive.
      this.settle.unref()
    }
  }

  closed(account: Account): void {
    if (!this.accounts.delete(account)) return
    this.total -= account.noted
    account.noted = 0
  }

  enforce(): void {
    this.settle = null
    if (this.measure() <= this.maxBytes) return
    const largestFirst = [...this.accounts].filter((account) => account.noted > 0).sort(byLargestBacklog)
    for (const account of largestFirst) {
      if (this.total <= this.maxBytes) return
      const reason = `over the server's budget for unsent bytes: ${this.total} bytes waiting for all peers (budget ${this.maxBytes}), ${account.noted} of them for this one, the largest backlog`
      // Closed here, not only when the peer leaves, so the total is right for the next one.
      account.close()
      account.peer.onSlow(reason)
    }
  }
}

// A class, not closures: there is one per connection.
class Account implements UnsentBytesAccount {
  /** The peer's unsent bytes when last noted or measured. */
  noted = 0

  constructor(
    private readonly budget: Budget,
    readonly peer: BudgetedPeer
  ) {}

  note(unsentBytes: number): void {
    this.budget.noted(this, unsentBytes)
  }

  close(): void {
    this.budget.closed(this)
  }
}
