// PatchedMap (src/xds/patched-map.ts): a map with a few values replaced, without a copy. After
// any sequence of patches it must read exactly like a copy with the values set (get, has, size,
// order of keys, values and entries, forEach); overlayDifference must be the brute-force
// difference; and however many patches follow, one root and at most MAX_OVER replaced values are
// held (never a chain of earlier maps).
import { describe, expect, it } from 'vitest';
import { MAX_OVER, OVERLAY_MIN, overlayDifference, PatchedMap, patchedMap } from '../../src/xds/patched-map.js';
import { rng } from '../helpers/rng.js';

interface V {
  v: number;
}

function brute(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>): Set<string> {
  const out = new Set<string>();
  for (const [k, x] of b) if (a.get(k)?.v !== x.v) out.add(k);
  return out;
}

describe('PatchedMap', () => {
  it('reads like a copy with the values set, after random patches; overlay differences equal the brute-force ones', () => {
    const r = rng(5);
    const keys = Array.from({ length: OVERLAY_MIN + 200 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    let map: ReadonlyMap<string, V> = new Map(keys.map((k) => [k, { v: 0 }]));
    let copy = new Map(map);
    const history: Array<ReadonlyMap<string, V>> = [map];
    let overlays = 0;
    for (let step = 1; step <= 400; step++) {
      const n = 1 + Math.floor(r() * (r() < 0.1 ? 40 : 4));
      // Mostly a few hot keys (churn), now and then others.
      const reps = Array.from({ length: n }, () => [keys[r() < 0.8 ? Math.floor(r() * 30) : Math.floor(r() * keys.length)]!, { v: step }] as const);
      map = patchedMap(map, reps);
      for (const [k, v] of reps) copy.set(k, v);
      if (map instanceof PatchedMap) {
        overlays++;
        expect(map.over.size).toBeLessThanOrEqual(MAX_OVER);
        expect(map.root instanceof PatchedMap).toBe(false);
      }
      expect(map.size).toBe(copy.size);
      for (const k of [keys[0]!, reps[0]![0], keys[Math.floor(r() * keys.length)]!, 'absent']) {
        expect(map.get(k), k).toBe(copy.get(k));
        expect(map.has(k)).toBe(copy.has(k));
      }
      if (step % 40 === 0) {
        expect([...map.keys()]).toEqual([...copy.keys()]);
        expect([...map.values()]).toEqual([...copy.values()]);
        expect([...map]).toEqual([...copy]);
        const seen: Array<[string, V]> = [];
        map.forEach((v, k, m) => {
          expect(m).toBe(map);
          seen.push([k, v]);
        });
        expect(seen).toEqual([...copy.entries()]);
      }
      const earlier = history[Math.max(0, history.length - 1 - Math.floor(r() * 5))]!;
      const d = overlayDifference(earlier, map, (x, y) => x.v === y.v);
      if (d) expect(d).toEqual(brute(earlier, map));
      history.push(map);
      copy = new Map(copy);
    }
    expect(overlays).toBeGreaterThan(100);
  });

  it('a small map is copied, never overlaid', () => {
    const m = new Map(Array.from({ length: 64 }, (_, i) => [`k${i}`, { v: 0 }]));
    const p = patchedMap(m, [['k1', { v: 1 }]]);
    expect(p instanceof PatchedMap).toBe(false);
    expect(p.get('k1')).toEqual({ v: 1 });
    expect(m.get('k1')).toEqual({ v: 0 });
  });

  it('a key the map lacks is a bug', () => {
    const m = new Map(Array.from({ length: OVERLAY_MIN }, (_, i) => [`k${i}`, { v: 0 }]));
    expect(() => patchedMap(m, [['nope', { v: 1 }]])).toThrow(/does not have/);
  });
});
