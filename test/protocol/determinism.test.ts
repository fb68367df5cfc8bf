// Determinism (RELIABILITY 9; Envoy #6252, Contour #5482): the same input gives byte-identical
// resources and identical version strings on another replica and after a restart, whatever the
// order of the input list and of the keys in its objects (maps and Structs are sorted).
import { describe, expect, it } from 'vitest';
import type { InProcessServer } from '../helpers/in-process.js';
import { cla, edsCluster, harness, listener, route, secret, staticCluster, TYPE, type Json } from './fixtures.js';

const h = harness();

function withMetadata(c: Json): Json {
  return {
    ...c,
    metadata: {
      filter_metadata: {
        'zeta.filter': { z: 1, a: { y: 'x', b: [1, 2, { k: 'v', c: true }] } },
        'alpha.filter': { owner: 'team-a', tier: 'gold' },
      },
    },
  };
}

const RESOURCES: Json[] = [
  withMetadata(edsCluster('X')),
  staticCluster('a', 8080),
  staticCluster('b', 8081),
  cla('X', 9000, 9001),
  listener('l1', 'r1'),
  listener('l2', 'r2', 10001),
  route('r1', 'X'),
  route('r2', 'a'),
  secret('s1', 'one'),
];

/** The same content: reversed list, and every object's keys in reverse order. */
function reshuffled(list: Json[]): Json[] {
  const rev = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rev);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).reverse()) out[k] = rev((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return [...list].reverse().map((r) => rev(r) as Json);
}

const SUBSCRIPTIONS: [string, string[]][] = [
  [TYPE.CLUSTER, []],
  [TYPE.ENDPOINT, ['X']],
  [TYPE.LISTENER, []],
  [TYPE.ROUTE, ['r1', 'r2']],
  [TYPE.SECRET, ['s1']],
];

/** Raw first responses (SotW and Delta) of a fresh stream per type. */
async function firstResponses(srv: InProcessServer): Promise<{ sotw: Buffer[]; delta: Buffer[]; versions: string[]; resources: Buffer[] }> {
  const c = h.client(srv.address);
  const sotw: Buffer[] = [];
  const delta: Buffer[] = [];
  const versions: string[] = [];
  const resources: Buffer[] = [];
  for (const [t, names] of SUBSCRIPTIONS) {
    const s = c.sotw();
    s.subscribe(t, names);
    const r = await s.next();
    sotw.push(r.raw);
    versions.push(r.version_info);
    resources.push(...r.resources.map((x) => x.bytes));
    s.cancel();
    const d = c.delta();
    d.subscribe(t, names);
    const dr = await d.next();
    delta.push(dr.raw);
    versions.push(dr.system_version_info, ...dr.resources.map((x) => `${x.name}=${x.version}`));
    d.cancel();
  }
  return { sotw, delta, versions, resources };
}

describe('Determinism', () => {
  it('two replicas given the same resources in a different order send byte-identical responses and versions', async () => {
    const a = await h.start();
    const b = await h.start();
    const snapA = a.set('node-1', RESOURCES);
    const snapB = b.set('node-1', reshuffled(RESOURCES));
    expect(snapB.version).toBe(snapA.version);
    const ra = await firstResponses(a);
    const rb = await firstResponses(b);
    expect(ra.versions.length).toBeGreaterThan(10);
    expect(rb.versions).toEqual(ra.versions);
    expect(rb.resources).toEqual(ra.resources);
    // The whole responses: same versions, resources, nonces (per-stream counters) and identifier.
    expect(rb.sotw).toEqual(ra.sotw);
    expect(rb.delta).toEqual(ra.delta);
    // Maps were encoded in sorted order: "alpha.filter" before "zeta.filter".
    const cds = ra.sotw[0]!.toString('latin1');
    expect(cds.indexOf('alpha.filter')).toBeLessThan(cds.indexOf('zeta.filter'));
  });

  it('a restarted server sends the same bytes and versions as before the restart', async () => {
    const first = await h.start();
    first.set('node-1', RESOURCES);
    const before = await firstResponses(first);
    await first.close();
    const restarted = await h.start();
    restarted.set('node-1', reshuffled(RESOURCES));
    const after = await firstResponses(restarted);
    expect(after.versions).toEqual(before.versions);
    expect(after.sotw).toEqual(before.sotw);
    expect(after.delta).toEqual(before.delta);
  });

  it('different content never reuses a version string (Contour #5482)', async () => {
    const srv = await h.start();
    const v1 = srv.set('node-1', [staticCluster('a', 1)]);
    const v2 = srv.set('node-1', [staticCluster('a', 2)]);
    expect(v2.typeVersion(TYPE.CLUSTER)).not.toBe(v1.typeVersion(TYPE.CLUSTER));
    expect(v2.get(TYPE.CLUSTER, 'a')!.version).not.toBe(v1.get(TYPE.CLUSTER, 'a')!.version);
    const c = h.client(srv.address).sotw();
    c.subscribe(TYPE.CLUSTER, []);
    const r = await c.next();
    expect(r.version_info).toBe(v2.typeVersion(TYPE.CLUSTER));
  });
});
