/**
 * The known name closest to a mistyped one (edit distance, at most a third of its length
 * plus one), or undefined when nothing is close enough to be a useful suggestion.
 */
export function closestName(typed: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(typed, name);
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  if (best === undefined) return undefined;
  const prefixMatch = known.filter((name) => name.startsWith(typed) || typed.startsWith(name));
  if (prefixMatch.length === 1) return prefixMatch[0];
  return best.distance <= Math.floor(typed.length / 3) + 1 ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
