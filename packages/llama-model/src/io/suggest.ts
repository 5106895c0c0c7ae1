/**
 * "Did you mean …?" for option names, config keys, methods and presets, shared by the CLI and the
 * trainer's config checks so that a typo gets the same suggestion everywhere.
 */

/** Levenshtein distance (small strings only). */
export function editDistance(a: string, b: string): number {
  const m = a.length, n = b.length;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[n]!;
}

/** The closest candidate within a typo's distance, or null. Prefix matches count as close unless `prefix` is false. */
export function suggest(input: string, candidates: readonly string[], opts: { prefix?: boolean } = {}): string | null {
  const prefix = opts.prefix ?? true;
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = prefix && (c.startsWith(input) || input.startsWith(c)) ? Math.min(1, editDistance(input, c)) : editDistance(input, c);
    if (d < bestD) { bestD = d; best = c; }
  }
  const limit = Math.max(2, Math.floor(input.length / 3));
  return best !== null && bestD <= limit ? best : null;
}
