// Types for version-diff.js (plain JS so the worker thread can load it unbuilt).
export interface VersionDiff {
  readonly update: Uint8Array
  /** The document differs from the previous version (always true without one). */
  readonly changed: boolean
  readonly inserted: number
  readonly deleted: number
}
export declare function versionDiff(chain: readonly Uint8Array[], current: Uint8Array, checkpoint: boolean): VersionDiff
export declare function versionContent(chain: readonly Uint8Array[]): Uint8Array
