// A read-only map that is another map with a few values replaced (same keys, same order),
// without copying it. TypeSet.patchedBy makes one per reload that changes a few resources of a
// big type: M10k's gateway has 10 000 clusters, and copying that map per change was ~1.2 ms and
// ~1.9 MB of garbage per type (most of what a one-cluster reload allocated), which the garbage
// collector then made S5's change wait for.
//
// Patches of a patched map share its root: the replacements are merged into one map over the
// same root, never a chain of overlays. Past MAX_OVER replacements the map is copied once and
// becomes a root itself (patchedMap decides), so lookups stay two native map lookups and the
// replaced values the root still holds stay few. Values are never undefined or null (resources).

/** Most replaced keys an overlay carries before patchedMap makes a flat copy instead. */
export const MAX_OVER = 64;
/** Maps smaller than this are copied (cheap), so that a small set patched at every reload never keeps its first map alive. */
export const OVERLAY_MIN = 1024;

export class PatchedMap<K, V extends object> implements ReadonlyMap<K, V> {
  constructor(
    /** The map whose keys and order this one has (a plain Map, never a PatchedMap). */
    readonly root: ReadonlyMap<K, V>,
    /** Keys of root with their new values. */
    readonly over: ReadonlyMap<K, V>,
  ) {}

  get size(): number {
    return this.root.size;
  }

  get(key: K): V | undefined {
    const v = this.over.get(key);
    return v !== undefined ? v : this.root.get(key);
  }

  has(key: K): boolean {
    return this.root.has(key);
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    const over = this.over;
    this.root.forEach((v, k) => fn.call(thisArg, over.get(k) ?? v, k, this));
  }

  keys(): MapIterator<K> {
    return this.root.keys();
  }

  *values(): MapIterator<V> {
    const over = this.over;
    for (const [k, v] of this.root) yield over.get(k) ?? v;
  }

  *entries(): MapIterator<[K, V]> {
    const over = this.over;
    for (const [k, v] of this.root) yield [k, over.get(k) ?? v];
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}

/**
 * `base` with the values of `replacements` (every key of which is a key of base): an overlay
 * on base's root while the replaced keys stay within MAX_OVER, else (and for maps smaller than
 * OVERLAY_MIN) a flat copy. An overlay keeps its root alive, and with it at most MAX_OVER
 * replaced values: bounded, however many patches follow.
 */
export function patchedMap<K, V extends object>(base: ReadonlyMap<K, V>, replacements: Iterable<readonly [K, V]>): ReadonlyMap<K, V> {
  const root = base instanceof PatchedMap ? (base.root as ReadonlyMap<K, V>) : base;
  const over = new Map<K, V>(base instanceof PatchedMap ? (base.over as ReadonlyMap<K, V>) : undefined);
  for (const [k, v] of replacements) {
    if (!root.has(k)) throw new Error(`bug: patchedMap given a key the map does not have: ${String(k)}`);
    over.set(k, v);
  }
  if (over.size <= MAX_OVER && root.size >= OVERLAY_MIN) return new PatchedMap(root, over);
  const flat = new Map<K, V>();
  root.forEach((v, k) => flat.set(k, over.get(k) ?? v));
  return flat;
}

/** The keys whose values differ between two maps over the same root, if they are such (else null). */
export function overlayDifference<K, V extends object>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>, same: (x: V, y: V) => boolean): Set<K> | null {
  const ra = a instanceof PatchedMap ? a.root : a;
  const rb = b instanceof PatchedMap ? b.root : b;
  if (ra !== rb) return null;
  const out = new Set<K>();
  const look = (m: ReadonlyMap<K, V>): void => {
    if (!(m instanceof PatchedMap)) return;
    for (const k of (m.over as ReadonlyMap<K, V>).keys()) if (!out.has(k) && !same(a.get(k) as V, b.get(k) as V)) out.add(k);
  };
  look(a);
  look(b);
  return out;
}
