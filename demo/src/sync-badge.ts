/**
 * The status badge must tell the truth, so it is derived from nothing but the
 * client session's own state: its connection status and its `saved` flag (the
 * server's durable acknowledgement, which survives reloads). A pure function
 * keeps the wording in one place.
 */

import type { ConnectionStatus } from '@quire/client'

export interface SyncState {
  readonly status: ConnectionStatus
  /** The first sync with the server completed (the page holds the server's document). */
  readonly synced: boolean
  /** true: the server acknowledged everything this device wrote; false: it did not yet; null: unknown. */
  readonly saved: boolean | null
  /** Local changes no server acknowledged yet; known offline too, and across reloads. */
  readonly unsavedChanges: boolean
  /** Whether the connection was lost since the page opened; retries then read as Offline, not Connecting. */
  readonly hasBeenDisconnected: boolean
  /** `navigator.onLine`: when the browser knows it has no network, a connection attempt is hopeless. */
  readonly networkAvailable: boolean
  /** Set when the server refused this session for good (4401, 4403): retrying cannot help. */
  readonly refusal: { readonly code: number; readonly reason: string } | null
  /** Set when the server said it will not store this session's edits (read-only access). */
  readonly editsRefused: string | null
  /** The document was deleted on the server (close 4404); `unsaved` tells whether this device held unsaved work. */
  readonly deleted: { readonly unsaved: boolean } | null
}

export type SyncBadgeKind = 'offline' | 'connecting' | 'saving' | 'saved' | 'unknown' | 'refused' | 'deleted'

export interface SyncBadge {
  readonly kind: SyncBadgeKind
  readonly label: string
  /** A longer sentence for the tooltip and the hint under the presence list. */
  readonly detail: string
}

export function describeSyncState(state: SyncState): SyncBadge {
  if (state.deleted !== null) {
    return {
      kind: 'deleted',
      label: 'Deleted',
      detail: state.deleted.unsaved
        ? 'This document was deleted. Changes made on this device were never saved: save a copy to keep them.'
        : 'This document was deleted. Nothing of it is kept on this device.'
    }
  }
  if (state.refusal !== null && state.status !== 'connected') {
    const why = state.refusal.reason !== '' ? state.refusal.reason : `close code ${state.refusal.code}`
    return {
      kind: 'refused',
      label: 'No access',
      detail: `The server refused this link (${why}). Edits stay on this device only; ask for a new link.`
    }
  }
  if (state.status !== 'connected') {
    // A reconnect attempt after a loss is still offline for the person typing;
    // flickering between "Connecting" and "Offline" on every retry would say nothing.
    if (state.status === 'connecting' && !state.hasBeenDisconnected && state.networkAvailable) {
      return { kind: 'connecting', label: 'Connecting…', detail: 'Connecting to the server.' }
    }
    const kept = state.unsavedChanges
      ? 'Your changes are kept on this device and will be sent when the connection returns.'
      : 'Everything you wrote is saved on the server.'
    return { kind: 'offline', label: 'Offline', detail: `${kept} Trying to reconnect…` }
  }
  if (!state.synced) {
    // Connected, but the server's copy has not arrived: "saved" would be true yet say nothing.
    return { kind: 'connecting', label: 'Connecting…', detail: 'Loading the document from the server.' }
  }
  if (state.saved === true) {
    return { kind: 'saved', label: 'All changes saved', detail: 'The server has stored every change made on this device.' }
  }
  if (state.saved === false && state.editsRefused !== null) {
    // Nothing is in flight: waiting would never turn these edits into saved ones.
    return {
      kind: 'refused',
      label: 'Not saved',
      detail: `The server does not accept edits from this link (${state.editsRefused}). They stay on this device only.`
    }
  }
  if (state.saved === false) {
    return { kind: 'saving', label: 'Saving…', detail: 'Waiting for the server to confirm your latest changes.' }
  }
  return { kind: 'unknown', label: 'Connected', detail: 'Connected, but this server does not confirm saves.' }
}
