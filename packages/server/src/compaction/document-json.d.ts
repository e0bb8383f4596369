// Types for document-json.js (plain JS so the worker thread can load it unbuilt).
export declare function documentJson(update: Uint8Array): string
