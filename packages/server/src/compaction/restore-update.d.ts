// Types for restore-update.js (plain JS so the worker thread can load it unbuilt).
export declare function restoreUpdate(current: Uint8Array, target: Uint8Array): Uint8Array
