/** "Did you mean": the word a person most likely meant, for a subcommand, flag or service name. */

/** Damerau–Levenshtein (optimal string alignment) distance. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i]![j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The candidate a typo most likely meant: a unique prefix, else the nearest within a small distance. */
export function closestMatch<T extends string>(word: string, candidates: readonly T[]): T | undefined {
  const typed = word.toLowerCase();
  if (typed.length === 0) return undefined;
  const prefixed = candidates.filter((candidate) => candidate.startsWith(typed));
  if (typed.length >= 2 && prefixed.length === 1) return prefixed[0];
  const limit = typed.length <= 3 ? 1 : typed.length <= 6 ? 2 : 3;
  let best: { candidate: T; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}
