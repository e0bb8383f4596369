export { createServer } from './create-server.js'
export type { ServerOptions, QuireServer, ListenResult, ServerStats } from './create-server.js'
export type { Authenticate, AuthenticateContext, AuthResult, Access } from './authenticate.js'
export type { GrantedAccess } from './auth/access-watch.js'
export { createTokenAuthenticator } from './auth/create-token-authenticator.js'
export type { TokenAuthenticatorOptions } from './auth/create-token-authenticator.js'
export { createShareTokenIssuer } from './auth/create-share-token-issuer.js'
export type { IssueShareToken, ShareRequest, ShareTokenIssuerOptions } from './auth/create-share-token-issuer.js'
export { signRoomToken } from './auth/sign-room-token.js'
export type { SignRoomTokenOptions } from './auth/sign-room-token.js'
export { verifyRoomToken } from './auth/verify-room-token.js'
export type { VerifiedRoomToken } from './auth/verify-room-token.js'
export { MIN_SECRET_BYTES } from './auth/room-token.js'
export type { RoomGrant, RoomScope, RoomTokenClaims } from './auth/room-token.js'
export type { DocumentEvents } from './api/document-events.js'
export { DEFAULT_LIMITS } from './limits/limits.js'
export type { Limits } from './limits/limits.js'
export { createTokenBucket } from './limits/token-bucket.js'
export type { TokenBucket, TokenBucketOptions } from './limits/token-bucket.js'
export type { Storage, StoredLog, AppendEntry, DocumentInfo, DocumentListing, DocumentPage } from './storage/storage.js'
export type { NewVersion, RebasedVersion, VersionInfo, VersionKind, VersionMeta, VersionStore, VersionSummary } from './storage/version-store.js'
export type { Fanout, FanoutEvents, FanoutPosition, FanoutReceive } from './fanout/fanout.js'
export { createLevelStorage } from './storage/level-storage.js'
export type { LevelStorageOptions } from './storage/level-storage.js'
export { createMemoryStorage } from './storage/memory-storage.js'
export { compactUpdates } from './compaction/compact-updates.js'
export { QuireError, toQuireError } from './quire-error.js'
export type { QuireErrorCode } from './quire-error.js'
export { consoleLog, quietLog } from './log.js'
export type { Log, LogLevel, LogFields } from './log.js'
export { redactUrl } from './redact-url.js'
export type { QuireMetrics } from './metrics/server-metrics.js'
export { verifyWebhookSignature, signWebhookBody, DEFAULT_SIGNATURE_TOLERANCE_SECONDS } from './webhooks/webhook-signature.js'
export type { WebhookSignatureCheck } from './webhooks/webhook-signature.js'
export { DEFAULT_WEBHOOK_SETTINGS } from './webhooks/webhook-options.js'
export type { WebhookOptions } from './webhooks/webhook-options.js'
export type { WebhookBody } from './webhooks/webhook-body.js'
export type { Webhooks } from './webhooks/create-webhooks.js'
export type { WebhookCounters } from './webhooks/webhook-dispatcher.js'
export type {
  ChangeMark,
  Delivery,
  DeliveryCounts,
  DeliveryStatus,
  NewDelivery,
  StoredChangeMark,
  WebhookEvent,
  WebhookOutbox
} from './webhooks/webhook-outbox.js'
