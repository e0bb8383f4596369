// Types for top-level-kind.js (plain JS so the worker thread can load it unbuilt).
import type * as Y from 'yjs'
export type TopLevelKind = 'map' | 'xml' | 'text' | 'array' | 'empty'
export declare function topLevelKind(doc: Y.Doc, name: string): TopLevelKind
export declare function topLevelOfKind(doc: Y.Doc, name: string, kind: Exclude<TopLevelKind, 'empty'>): Y.XmlFragment | Y.Text | Y.Map<unknown> | Y.Array<unknown>
