// The simulated Envoy's reference index: after any sequence of puts and removes, its summary is
// what a summary of the held resources from scratch gives, and it is the same object while no
// referred name comes or goes (what lets a one-cluster change cost the load generator O(1)).
import { describe, expect, it } from 'vitest';
import { RefIndex, type RefSummary } from '../../bench/loadgen/ref-index.js';
import type { Refs } from '../../bench/lib/wire.js';
import { rng } from '../helpers/rng.js';

function fromScratch(held: Map<string, Refs>, kind: 'cds' | 'lds'): RefSummary {
  const names = new Set<string>();
  const secrets = new Set<string>();
  for (const r of held.values()) {
    for (const n of kind === 'cds' ? r.endpoints : r.routes) names.add(n);
    for (const n of r.secrets) secrets.add(n);
  }
  return { names: [...names].sort(), secrets: [...secrets].sort() };
}

describe('load generator reference index', () => {
  for (const kind of ['cds', 'lds'] as const) {
    it(`${kind}: equals a summary from scratch after random puts and removes`, () => {
      const rand = rng(kind === 'cds' ? 7 : 11);
      const pick = (n: number): number => Math.floor(rand() * n);
      const x = new RefIndex(kind);
      const held = new Map<string, Refs>();
      const someRefs = (): Refs => {
        const names = Array.from({ length: pick(3) }, () => `n${pick(12)}`);
        return {
          endpoints: kind === 'cds' ? names : [],
          routes: kind === 'lds' ? names : [],
          secrets: Array.from({ length: pick(3) }, () => `s${pick(5)}`),
        };
      };
      let before = x.current();
      for (let step = 0; step < 2000; step++) {
        const name = `r${pick(20)}`;
        if (rand() < 0.3) {
          x.remove(name);
          held.delete(name);
        } else {
          const r = rand() < 0.2 && held.has(name) ? held.get(name)! : someRefs();
          x.put(name, r);
          held.set(name, r);
        }
        const now = x.current();
        const want = fromScratch(held, kind);
        expect(now, `step ${step}`).toEqual(want);
        if (JSON.stringify(want) === JSON.stringify(before)) expect(now, `step ${step}: a new summary for the same names`).toBe(before);
        before = now;
      }
    });
  }
});
