// Binary search in arrays kept sorted by a string key.

/** The first index of `sorted` whose key is not below `key` (where an entry with that key is, or would go). */
export function lowerBound<T>(sorted: readonly T[], key: string, keyOf: (x: T) => string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyOf(sorted[mid]!) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
