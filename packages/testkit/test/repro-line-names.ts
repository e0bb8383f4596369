/**
 * The first suite name of repro-line-target.test.ts, shared with repro-line.test.ts
 * (which must not import the target file: importing a test file registers its tests).
 * Built to trip a careless repro line: regex and shell characters, and " > ".
 */
export const TRICKY_SUITE = `names with (parens) [brackets] {braces} $dollar 'single' "double" \`tick\` * + ? ^ | \\ . > too`
