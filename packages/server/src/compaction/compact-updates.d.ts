// Types for compact-updates.js (plain JS so the worker thread can load it unbuilt),
// for packages that type-check against this package's source without allowJs.
export declare function compactUpdates(updates: readonly Uint8Array[]): Uint8Array
