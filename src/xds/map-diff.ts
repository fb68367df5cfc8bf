// What differs from one resource map of a type to another (snapshot maps, response bodies' maps:
// immutable and shared), worked out once per pair of maps and shared by every stream that goes
// from the one to the other: thousands of proxies holding the same set are told about a change
// without each looking at its names.
import { byName, type Resource } from './resource.js';
import { changedBetween } from './snapshot.js';

export interface PairDiff {
  /** Resources of the newer map that the older lacks or has at another version, in name order. */
  readonly changed: readonly Resource[];
  /** Their names, in the same order. */
  readonly names: readonly string[];
  /** Names of the older map the newer lacks, in name order. */
  readonly removed: readonly string[];
  /** Names of the newer map the older lacks (among `names`). */
  readonly added: readonly string[];
  /** Response cache keys of sending `changed`, made once by their callers (per response version). */
  deltaKey?: { version: string; key: string };
  sotwKey?: { version: string; key: string };
}

const PAIR_DIFFS = new WeakMap<ReadonlyMap<string, Resource>, WeakMap<ReadonlyMap<string, Resource>, PairDiff>>();

export function pairDiff(from: ReadonlyMap<string, Resource>, to: ReadonlyMap<string, Resource>): PairDiff {
  let byTo = PAIR_DIFFS.get(from);
  const hit = byTo?.get(to);
  if (hit) return hit;
  const changed: Resource[] = [];
  const removed: string[] = [];
  const added: string[] = [];
  if (from !== to) {
    for (const n of changedBetween(from, to)) {
      const r = to.get(n);
      if (r) {
        changed.push(r);
        if (!from.has(n)) added.push(n);
      } else removed.push(n);
    }
    changed.sort(byName);
    removed.sort();
  }
  const d: PairDiff = { changed, names: changed.map((r) => r.name), removed, added };
  if (!byTo) PAIR_DIFFS.set(from, (byTo = new WeakMap()));
  byTo.set(to, d);
  return d;
}

/** Whether `names` has every name of `m` (what `m` holds is then exactly what the names select). */
export function namesCover(names: ReadonlySet<string>, m: ReadonlyMap<string, unknown>): boolean {
  if (names.size < m.size) return false;
  for (const n of m.keys()) if (!names.has(n)) return false;
  return true;
}
