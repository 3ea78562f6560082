/**
 * "Did you mean …?" for misspelt keys and names: the closest candidate by edit distance,
 * when it is close enough to be a plausible typo rather than a different word.
 */

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two adjacent
 * characters (optimal string alignment), case-insensitive: `epoch` → `epochs` is 1,
 * `lr0` → `lr` is 1, `yolov11n.pt` → `yolo11n.pt` is 1.
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows = s.length + 1;
  const cols = t.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      const row = d[i]!;
      const prev = d[i - 1]!;
      let best = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      row[j] = best;
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The candidate closest to `word`, or undefined when none is within a typo's reach
 * (at most 2 edits, or a third of the word's length for long words) and none starts with it.
 * Ties go to the candidate listed first, so callers list the likelier names first.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const reach = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (bestDistance <= reach && bestDistance < Math.max(word.length, 1)) return best;
  // A cut-off name (`maxRuntime` for `maxRuntimeHours`) is far in edits but plainly meant.
  if (word.length >= 4) return candidates.find((c) => c.toLowerCase().startsWith(word.toLowerCase()));
  return undefined;
}

/** Lists values for a message: "a, b or c". */
export function listWithOr(values: readonly (string | number)[]): string {
  const items = values.map(String);
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}
