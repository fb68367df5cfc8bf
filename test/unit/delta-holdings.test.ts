// Holdings (src/xds/delta-holdings.ts) against the plain maps it replaces (name → version, and
// name → resource for what this stream sent), over random operations: whole sets held at once,
// resources sent, versions announced, names dropped, overrides growing until the base is folded.
import { describe, expect, it } from 'vitest';
import { Holdings } from '../../src/xds/delta-holdings.js';
import { resourceFromBytes, type Resource } from '../../src/xds/resource.js';
import { TYPE } from '../../src/xds/type-urls.js';
import { rng } from '../helpers/rng.js';

function resource(name: string, v: number): Resource {
  return resourceFromBytes(TYPE.CLUSTER, name, Buffer.from(`${name}:${v}`));
}

describe('Delta holdings', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`agrees with plain maps over random operations, seed ${seed}`, () => {
      const rand = rng(seed);
      const names = Array.from({ length: 150 + seed * 40 }, (_, i) => `c${String(i).padStart(4, '0')}`);
      const pick = (): string => names[Math.floor(rand() * names.length)]!;
      const h = new Holdings();
      const known = new Map<string, string>();
      const held = new Map<string, Resource>();
      for (let step = 0; step < 1500; step++) {
        const op = rand();
        if (op < 0.02) {
          // The proxy drops everything (names unsubscribed), then is sent a whole set (a
          // snapshot's map) at once: a stream's first push after a re-subscription.
          for (const n of [...known.keys()]) h.delete(n);
          known.clear();
          held.clear();
          expect(h.knownSize).toBe(0);
          const all = new Map<string, Resource>();
          for (const n of names) if (rand() < 0.8) all.set(n, resource(n, step));
          h.holdAll(all);
          for (const [n, r] of all) {
            known.set(n, r.version);
            held.set(n, r);
          }
        } else if (op < 0.5) {
          const r = resource(pick(), Math.floor(rand() * 3));
          h.setHeld(r);
          known.set(r.name, r.version);
          held.set(r.name, r);
        } else if (op < 0.6) {
          const n = pick();
          const v = `v${Math.floor(rand() * 3)}`;
          h.setVersion(n, v);
          known.set(n, v);
          held.delete(n);
        } else {
          const n = pick();
          h.delete(n);
          known.delete(n);
          held.delete(n);
        }
        expect(h.knownSize, `step ${step}`).toBe(known.size);
        expect(h.heldSize, `step ${step}`).toBe(held.size);
        for (let k = 0; k < 5; k++) {
          const n = pick();
          expect(h.version(n)).toBe(known.get(n));
          expect(h.has(n)).toBe(known.has(n));
          expect(h.heldResource(n)).toBe(held.get(n));
          expect(h.hasHeld(n)).toBe(held.has(n));
        }
        if (step % 50 === 0) {
          expect(h.knownNames().sort()).toEqual([...known.keys()].sort());
          expect(h.heldResources().sort((a, b) => (a.name < b.name ? -1 : 1))).toEqual([...held.values()].sort((a, b) => (a.name < b.name ? -1 : 1)));
        }
      }
    });
  }

  it('records a whole set without copying it, and folds it into per-name entries once overrides pass half of it', () => {
    const all = new Map<string, Resource>();
    for (let i = 0; i < 200; i++) all.set(`c${i}`, resource(`c${i}`, 0));
    const h = new Holdings();
    h.holdAll(all);
    expect(h.knownSize).toBe(200);
    // Overriding with the very resource the base holds is no override.
    h.setHeld(all.get('c1')!);
    for (let i = 0; i < 150; i++) h.setHeld(resource(`c${i}`, 1));
    for (let i = 150; i < 160; i++) h.delete(`c${i}`);
    expect(h.knownSize).toBe(190);
    expect(h.heldSize).toBe(190);
    expect(h.version('c0')).toBe(resource('c0', 1).version);
    expect(h.version('c170')).toBe(all.get('c170')!.version);
    expect(h.has('c155')).toBe(false);
    expect(h.knownNames()).toHaveLength(190);
  });
});
