import { CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED } from '@quire/protocol'
import type { Access } from '../authenticate.js'
import type { Log } from '../log.js'

/**
 * Access is decided when a connection opens, but it does not last for ever: a token
 * expires, an account is suspended, a share link is withdrawn. This watch holds every
 * granted connection's access and ends it when it ends:
 *
 * - at the token's expiry, the connection is closed with 4401 ("token expired"); a
 *   client that can get a fresh token reconnects with it (`@quire/client` does when its
 *   `token` is a function), nothing is lost because every edit is resent by the sync
 *   handshake;
 * - when the embedder revokes access (`QuireServer.revoke(filter)`), or the grant's own
 *   `checkAccess` says no on one of its periodic checks, with 4403.
 *
 * One timer per connection with an expiry (unref'd, so it never holds the process up),
 * and one interval for all the periodic checks; connections without either cost one
 * set entry.
 */
export interface AccessWatch {
  /** Watches `grant` until the returned function is called (when its connection closes). */
  watch(grant: WatchedGrant): () => void
  /** Closes every watched connection that `filter` picks with 4403; returns how many. */
  revoke(filter: (grant: GrantedAccess) => boolean, reason?: string): number
  /** Stops every timer (server shutdown). */
  close(): void
}

/** What an embedder's revocation filter sees of a connection. */
export interface GrantedAccess {
  readonly room: string
  readonly user: string
  readonly access: Access
}

export interface WatchedGrant extends GrantedAccess {
  /** When the access ends (ms since the epoch), e.g. a token's `exp`. */
  readonly expiresAt?: number
  /** Asked again every `checkEveryMs` while connected; false (or a rejection) ends the access. */
  readonly checkAccess?: () => boolean | Promise<boolean>
  /** Ends the connection (code, then a reason that fits a close frame). */
  close(code: number, reason: string): void
}

export interface AccessWatchOptions {
  /** How often `checkAccess` is asked. */
  readonly checkEveryMs: number
  readonly log: Log
}

/** setTimeout fires at once for delays past 2^31-1 ms (about 24.8 days): longer ones are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1

interface Watched {
  readonly grant: WatchedGrant
  timer: ReturnType<typeof setTimeout> | null
  checking: boolean
  ended: boolean
}

export function createAccessWatch(options: AccessWatchOptions): AccessWatch {
  const watched = new Set<Watched>()
  let checks: ReturnType<typeof setInterval> | null = null
  let checked = 0

  const end = (entry: Watched, code: number, reason: string): void => {
    if (entry.ended) return
    entry.ended = true
    forget(entry)
    entry.grant.close(code, reason)
  }

  const forget = (entry: Watched): void => {
    if (!watched.delete(entry)) return
    if (entry.timer !== null) clearTimeout(entry.timer)
    entry.timer = null
    if (entry.grant.checkAccess !== undefined && --checked === 0 && checks !== null) {
      clearInterval(checks)
      checks = null
    }
  }

  const armExpiry = (entry: Watched, expiresAt: number): void => {
    const delay = expiresAt - Date.now()
    if (delay <= 0) {
      end(entry, CLOSE_UNAUTHORIZED, 'token expired')
      return
    }
    entry.timer = setTimeout(armExpiry, Math.min(delay, MAX_TIMER_MS), entry, expiresAt)
    entry.timer.unref()
  }

  const check = (entry: Watched): void => {
    const { checkAccess } = entry.grant
    if (checkAccess === undefined || entry.checking || entry.ended) return
    entry.checking = true
    Promise.resolve()
      .then(checkAccess)
      .then(
        (allowed) => {
          if (!allowed) end(entry, CLOSE_FORBIDDEN, 'access revoked')
        },
        (error: unknown) => {
          options.log('warn', `access check failed, closing the connection: ${error instanceof Error ? error.message : String(error)}`)
          end(entry, CLOSE_FORBIDDEN, 'access could not be confirmed')
        }
      )
      .finally(() => {
        entry.checking = false
      })
  }

  return {
    watch(grant) {
      const entry: Watched = { grant, timer: null, checking: false, ended: false }
      watched.add(entry)
      if (grant.checkAccess !== undefined && checked++ === 0) {
        checks = setInterval(() => {
          for (const candidate of watched) check(candidate)
        }, options.checkEveryMs)
        checks.unref()
      }
      if (grant.expiresAt !== undefined) armExpiry(entry, grant.expiresAt)
      return () => forget(entry)
    },
    revoke(filter, reason = 'access revoked') {
      let revoked = 0
      for (const entry of [...watched]) {
        const { room, user, access } = entry.grant
        if (!filter({ room, user, access })) continue
        end(entry, CLOSE_FORBIDDEN, reason)
        revoked++
      }
      return revoked
    },
    close() {
      for (const entry of [...watched]) forget(entry)
    }
  }
}
