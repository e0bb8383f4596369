/**
 * Whether a URL may be put in a rendered link or source: http, https and mailto, or a
 * relative URL (no scheme: it stays on the reader's site). Everything else
 * (`javascript:`, `data:`, `vbscript:`, `file:` ...) is refused. Browsers drop ASCII
 * tabs and newlines anywhere in a URL and control characters and spaces around it before
 * they read the scheme (`java\tscript:` is `javascript:`), so they are dropped here too
 * before the scheme is read.
 */
const SAFE_SCHEMES = new Set(['http', 'https', 'mailto'])
const IGNORED_BY_BROWSERS = /[\u0000-\u0020\u007f]/g
const SCHEME = /^([a-z][a-z0-9+.-]*):/i

export function isSafeUrl(url: unknown): boolean {
  if (typeof url !== 'string') return false
  const scheme = SCHEME.exec(url.replace(IGNORED_BY_BROWSERS, ''))?.[1]
  return scheme === undefined || SAFE_SCHEMES.has(scheme.toLowerCase())
}
