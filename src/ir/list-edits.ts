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

const edits = new WeakMap<readonly unknown[], { base: readonly unknown[]; at: readonly number[] }>();

/** Record that `list` is `base` (same length) but for the elements at `at` (ascending, distinct). */
export function noteReplaced<T>(list: readonly T[], base: readonly T[], at: readonly number[]): void {
  if (list.length !== base.length) throw new Error('bug: noteReplaced on lists of different lengths');
  for (let k = 0; k < at.length; k++) if (!(at[k]! >= 0 && at[k]! < list.length && (k === 0 || at[k]! > at[k - 1]!))) throw new Error('bug: noteReplaced places not ascending in the list');
  edits.set(list, { base, at });
}

/** The places where `list` may differ from `base` (ascending), if its maker recorded them against that very list. */
export function replacedSince<T>(base: readonly T[], list: readonly T[]): readonly number[] | undefined {
  const e = edits.get(list);
  return e !== undefined && e.base === base ? e.at : undefined;
}
