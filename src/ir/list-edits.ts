// Where a list came from, when its maker knows: `base` (a list of the same length) with the
// elements at a few places replaced, every other element the very object `base` has there.
// A consumer holding what it made from `base` then looks only at those places instead of
// comparing every element (a gateway of M10k has 10 000 routes; one edited route would
// otherwise cost walks over all of them in the IR and in the route configuration's assembly).
//
// Only ever a hint: a list without a record, or recorded against another base, is compared
// element by element as before, so a missing record costs time, never correctness. A record is
// made by the code that makes the list, before anyone else sees it, and lists are never
// modified afterwards.

// A record holds its base weakly: a list must not keep the list it was made from alive (a list
// remade from the last one at every reload would hold every earlier one, a chain through all
// history). Records are kept by base, then by list, both weakly (no WeakRef: a WeakRef keeps its
// target alive until the end of the current job, so many reloads in one job would hold every
// base until it ends). A record is found only by a consumer that names the base it expects.
const edits = new WeakMap<readonly unknown[], WeakMap<readonly unknown[], readonly number[]>>();

/** Record that `list` is `base` (same length) but for the elements at `at` (ascending, distinct). */
export function noteReplaced<T>(list: readonly T[], base: readonly T[], at: readonly number[]): void {
  if (list.length !== base.length) throw new Error('bug: noteReplaced on lists of different lengths');
  for (let k = 0; k < at.length; k++) if (!(at[k]! >= 0 && at[k]! < list.length && (k === 0 || at[k]! > at[k - 1]!))) throw new Error('bug: noteReplaced places not ascending in the list');
  let byList = edits.get(base);
  if (byList === undefined) edits.set(base, (byList = new WeakMap()));
  byList.set(list, at);
}

/** The places where `list` may differ from `base` (ascending), if its maker recorded them against that very list. */
export function replacedSince<T>(base: readonly T[], list: readonly T[]): readonly number[] | undefined {
  return edits.get(base)?.get(list);
}

/**
 * Lengths of consecutive pieces (a list's items, a configuration's route fields) as a Fenwick
 * tree: where piece i starts (the sum of the lengths before it), which piece holds an offset,
 * and a changed length, each in O(log n), so that an edit of a few pieces of a long list finds
 * them without a walk over the others.
 */
export class PrefixSums {
  private readonly tree: Float64Array;
  total = 0;

  constructor(lengths: readonly number[], tree?: Float64Array, total?: number) {
    if (tree) {
      this.tree = tree;
      this.total = total!;
      return;
    }
    const n = lengths.length;
    const t = new Float64Array(n + 1);
    for (let i = 1; i <= n; i++) {
      const len = lengths[i - 1]!;
      this.total += len;
      t[i]! += len;
      const j = i + (i & -i);
      if (j <= n) t[j]! += t[i]!;
    }
    this.tree = t;
  }

  /** How many pieces. */
  get size(): number {
    return this.tree.length - 1;
  }

  /** A copy (to update without changing this one). */
  clone(): PrefixSums {
    return new PrefixSums([], this.tree.slice(), this.total);
  }

  /** The sum of the lengths of pieces [0, i). */
  before(i: number): number {
    let s = 0;
    for (let k = i; k > 0; k -= k & -k) s += this.tree[k]!;
    return s;
  }

  /** The last piece that starts at or before `x` (x ≥ 0; the last piece if x is past the end). */
  pieceAt(x: number): number {
    const t = this.tree;
    const n = t.length - 1;
    let pos = 0;
    let rest = x;
    let step = 1;
    while (step * 2 <= n) step *= 2;
    for (; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= n && t[next]! <= rest) {
        pos = next;
        rest -= t[next]!;
      }
    }
    // pos pieces end at or before x: the piece holding x is pos (or the last one).
    return Math.min(pos, n - 1);
  }

  /** Piece i's length changed by `delta`. */
  add(i: number, delta: number): void {
    if (delta === 0) return;
    this.total += delta;
    const t = this.tree;
    for (let k = i + 1; k < t.length; k += k & -k) t[k]! += delta;
  }
}
