/**
 * The read-only page for people (`GET /api/v1/documents/<room>?format=html&page=1`): the
 * rendered document (already safe, see `@quire/render`) in a small standalone HTML page
 * with its room as the title and a stylesheet of its own, no script at all.
 */
export function createReadPage(room: string, documentHtml: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(room)}</title>
<style>
body { font: 16px/1.6 system-ui, sans-serif; color: #1f2328; background: #fff; margin: 0; }
main { max-width: 46rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
header { color: #59636e; font-size: 0.875rem; border-bottom: 1px solid #d1d9e0; margin-bottom: 1.5rem; padding-bottom: 0.5rem; }
pre { background: #f6f8fa; padding: 0.75rem 1rem; overflow-x: auto; border-radius: 6px; }
code { font-family: ui-monospace, monospace; font-size: 0.9em; }
blockquote { margin-left: 0; padding-left: 1rem; border-left: 3px solid #d1d9e0; color: #59636e; }
hr { border: none; border-top: 1px solid #d1d9e0; }
</style>
</head>
<body>
<main>
<header>${escapeHtml(room)} · read-only</header>
<article data-testid="document">${documentHtml}</article>
</main>
</body>
</html>
`
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
