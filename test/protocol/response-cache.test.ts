// Assembled responses are shared across streams: proxies of different groups subscribing to
// the same resources receive the same bytes but for their own nonce (the last field), the
// body is built once, and any change to what is sent gives a new version and new bytes.
import { describe, expect, it } from 'vitest';
import { ResponseCache, deltaKey, withNonce } from '../../src/xds/response-cache.js';
import { lengthDelimited, stringField } from '../../src/xds/wire.js';
import { snapshotOf } from '../helpers/in-process.js';
import { decodeDeltaResponse, decodeSotwResponse } from '../helpers/xds-client.js';
import { cla, edsCluster, harness, listener, nextAndAck, nextDeltaAndAck, route, secret, staticCluster, TYPE, versionFor } from './fixtures.js';

const h = harness();

const SHARED = [edsCluster('a'), edsCluster('b'), staticCluster('c', 3), cla('a', 1), cla('b', 2)];

/** The response without its nonce field (meshgate writes the nonce last). */
function withoutNonce(raw: Buffer, nonce: string): Buffer {
  const field = stringField(5, nonce);
  expect(raw.subarray(raw.length - field.length).equals(field)).toBe(true);
  return raw.subarray(0, raw.length - field.length);
}

describe('Shared response bodies', () => {
  it('SotW: two groups with identical clusters and endpoints get identical bytes except the nonce', async () => {
    const srv = await h.start();
    const s1 = srv.set('g1', [...SHARED, listener('l1', 'r1'), route('r1', 'a')]);
    const s2 = srv.set('g2', [...SHARED, listener('l2', 'r2', 10001), route('r2', 'b')]);
    expect(s1.version).not.toBe(s2.version);
    const before = srv.server.responseCache.stats();

    const p1 = h.client(srv.address, { node: { id: 'g1', cluster: 'x' } }).sotw();
    const p2 = h.client(srv.address, { node: { id: 'g2', cluster: 'x' } }).sotw();
    // p2 first asks for listeners, so its CDS answer carries another nonce.
    p2.subscribe(TYPE.LISTENER, []);
    await nextAndAck(p2);
    p1.subscribe(TYPE.CLUSTER, []);
    p2.subscribe(TYPE.CLUSTER, []);
    const c1 = await nextAndAck(p1);
    const c2 = await nextAndAck(p2);
    expect(c1.nonce).not.toBe(c2.nonce);
    expect(c1.version_info).toBe(s1.typeVersion(TYPE.CLUSTER));
    expect(c2.version_info).toBe(c1.version_info);
    expect(withoutNonce(c2.raw, c2.nonce).equals(withoutNonce(c1.raw, c1.nonce))).toBe(true);
    expect(c1.names).toEqual(['a', 'b', 'c']);
    expect(c1.control_plane).toBe('meshgate');

    // Named EDS subscriptions, listed in different orders: one body, named by its content.
    p1.subscribe(TYPE.ENDPOINT, ['b', 'a']);
    p2.subscribe(TYPE.ENDPOINT, ['a', 'b']);
    const e1 = await nextAndAck(p1);
    const e2 = await nextAndAck(p2);
    expect(e1.version_info).toBe(versionFor(s1, TYPE.ENDPOINT, ['a', 'b']));
    expect(e2.version_info).toBe(e1.version_info);
    expect(withoutNonce(e2.raw, e2.nonce).equals(withoutNonce(e1.raw, e1.nonce))).toBe(true);
    // A body is kept from its second request on: a third proxy (another group again) is
    // answered from the cache.
    const mid = srv.server.responseCache.stats();
    expect(mid.misses - before.misses).toBe(5); // LDS of g2, CDS twice, EDS twice
    expect(mid.notKept - before.notKept).toBe(3); // LDS of g2, the first CDS and EDS
    expect(mid.hits - before.hits).toBe(0);
    srv.set('g3', [...SHARED, secret('only-g3', 'x')]);
    const p3 = h.client(srv.address, { node: { id: 'g3', cluster: 'x' } }).sotw();
    p3.subscribe(TYPE.CLUSTER, []);
    p3.subscribe(TYPE.ENDPOINT, ['a', 'b']);
    const c3 = await nextAndAck(p3);
    const e3 = await nextAndAck(p3);
    expect(withoutNonce(c3.raw, c3.nonce).equals(withoutNonce(c1.raw, c1.nonce))).toBe(true);
    expect(withoutNonce(e3.raw, e3.nonce).equals(withoutNonce(e1.raw, e1.nonce))).toBe(true);
    const after = srv.server.responseCache.stats();
    expect(after.hits - mid.hits).toBe(2);
    expect(after.misses - mid.misses).toBe(0);

    // A changed assignment in g1 only: p1 gets a new version and new bytes, p2 nothing.
    const s1b = srv.set('g1', [...SHARED.filter((r) => r['cluster_name'] !== 'a'), cla('a', 10), listener('l1', 'r1'), route('r1', 'a')]);
    const e1b = await nextAndAck(p1);
    expect(e1b.version_info).toBe(versionFor(s1b, TYPE.ENDPOINT, ['a', 'b']));
    expect(e1b.version_info).not.toBe(e1.version_info);
    expect(e1b.resources.find((r) => r.name === 'a')!.json).toEqual(cla('a', 10));
    await p2.expectNoResponse(200);
    // The same change in g2 gives p2 exactly what p1 got.
    srv.set('g2', [...SHARED.filter((r) => r['cluster_name'] !== 'a'), cla('a', 10), listener('l2', 'r2', 10001), route('r2', 'b')]);
    const e2b = await nextAndAck(p2);
    expect(e2b.version_info).toBe(e1b.version_info);
    expect(withoutNonce(e2b.raw, e2b.nonce).equals(withoutNonce(e1b.raw, e1b.nonce))).toBe(true);
  });

  it('Delta: identical first answers across groups share bytes except the nonce; a change is sent alone', async () => {
    const srv = await h.start();
    srv.set('g1', [...SHARED, secret('s', 'one')]);
    srv.set('g2', [...SHARED, secret('s', 'two')]);
    const d1 = h.client(srv.address, { node: { id: 'g1', cluster: 'x' } }).delta();
    const d2 = h.client(srv.address, { node: { id: 'g2', cluster: 'x' } }).delta();
    d2.subscribe(TYPE.SECRET, ['s']);
    await nextDeltaAndAck(d2);
    d1.subscribe(TYPE.CLUSTER);
    d2.subscribe(TYPE.CLUSTER);
    const c1 = await nextDeltaAndAck(d1);
    const c2 = await nextDeltaAndAck(d2);
    expect(c1.nonce).not.toBe(c2.nonce);
    expect(c1.names).toEqual(['a', 'b', 'c']);
    expect(withoutNonce(c2.raw, c2.nonce).equals(withoutNonce(c1.raw, c1.nonce))).toBe(true);

    const s1b = srv.set('g1', [edsCluster('a', '5s'), edsCluster('b'), staticCluster('c', 3), cla('a', 1), cla('b', 2), secret('s', 'one')]);
    const c1b = await nextDeltaAndAck(d1);
    expect(c1b.names).toEqual(['a']);
    expect(c1b.resources[0]!.version).toBe(s1b.get(TYPE.CLUSTER, 'a')!.version);
    expect(c1b.system_version_info).toBe(s1b.typeVersion(TYPE.CLUSTER));
    await d2.expectNoResponse(200);
  });
});

describe('ResponseCache', () => {
  const cp = stringField(1, 'meshgate');
  const controlPlane = { sotw: lengthDelimited(6, cp), delta: lengthDelimited(7, cp) };

  it('a SotW body decodes, with its nonce appended, to the response it stands for', () => {
    const snap = snapshotOf(SHARED);
    const cache = new ResponseCache(controlPlane);
    const list = [...snap.resources(TYPE.CLUSTER).values()];
    const body = cache.sotw(TYPE.CLUSTER, snap.typeVersion(TYPE.CLUSTER), () => list);
    expect(body.names).toEqual(['a', 'b', 'c']);
    // Kept from the second request on.
    expect(cache.stats()).toMatchObject({ misses: 1, notKept: 1, entries: 0 });
    const again = cache.sotw(TYPE.CLUSTER, snap.typeVersion(TYPE.CLUSTER), () => list);
    expect(again.bytes.equals(body.bytes)).toBe(true);
    expect(cache.stats()).toMatchObject({ misses: 2, notKept: 1, entries: 1 });
    const r = decodeSotwResponse(withNonce(body.bytes, '42').toBuffer());
    expect(r).toMatchObject({ version_info: snap.typeVersion(TYPE.CLUSTER), type_url: TYPE.CLUSTER, nonce: '42', names: ['a', 'b', 'c'], control_plane: 'meshgate' });
    expect(cache.sotw(TYPE.CLUSTER, snap.typeVersion(TYPE.CLUSTER), () => expect.fail('cached')).bytes).toBe(again.bytes);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2 });
  });

  it('a response is the shared body followed by its own nonce field', () => {
    const body = Buffer.from([1, 2, 3, 4, 5]);
    const r = withNonce(body, '99');
    expect(r.length).toBe(body.length + 4);
    expect(r.body).toBe(body);
    expect(r.toBuffer().equals(Buffer.concat([body, stringField(5, '99')]))).toBe(true);
  });

  it('Delta keys name exactly the content: resources, versions, removals and system version', () => {
    const snap = snapshotOf(SHARED);
    const [ra, rb] = [snap.get(TYPE.CLUSTER, 'a')!, snap.get(TYPE.CLUSTER, 'b')!];
    const v = snap.typeVersion(TYPE.CLUSTER);
    const keys = [
      deltaKey(TYPE.CLUSTER, v, [ra], [], false),
      deltaKey(TYPE.CLUSTER, v, [ra, rb], [], false),
      deltaKey(TYPE.CLUSTER, v, [ra], ['b'], false),
      deltaKey(TYPE.CLUSTER, v, [], ['a'], false),
      deltaKey(TYPE.CLUSTER, 'other', [ra], [], false),
      deltaKey(TYPE.ENDPOINT, v, [], ['a'], false),
      deltaKey(TYPE.CLUSTER, v, [ra, rb], [], true),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    const cache = new ResponseCache(controlPlane);
    const first = cache.delta(keys[2]!, v, TYPE.CLUSTER, [ra], ['b']);
    const d = decodeDeltaResponse(withNonce(first, '7').toBuffer());
    expect(d).toMatchObject({ system_version_info: v, type_url: TYPE.CLUSTER, nonce: '7', names: ['a'], removed_resources: ['b'], control_plane: 'meshgate' });
    const bytes = cache.delta(keys[2]!, v, TYPE.CLUSTER, [ra], ['b']);
    expect(bytes.equals(first)).toBe(true);
    expect(cache.delta(keys[2]!, v, TYPE.CLUSTER, [ra], ['b'])).toBe(bytes);
  });

  it('is bounded by bytes: least recently used bodies go first', () => {
    const snap = snapshotOf(Array.from({ length: 40 }, (_, i) => cla(`e${i}`, 1000 + i)));
    const list = [...snap.resources(TYPE.ENDPOINT).values()];
    const one = new ResponseCache(controlPlane).sotw(TYPE.ENDPOINT, 'v', () => list.slice(0, 1)).bytes.length;
    const maxBytes = 10 * (2 * one + 400); // room for about ten of them
    const cache = new ResponseCache(controlPlane, { maxBytes });
    for (let i = 0; i < 40; i++) for (let twice = 0; twice < 2; twice++) cache.sotw(TYPE.ENDPOINT, `v${i}`, () => list.slice(i, i + 1));
    const st = cache.stats();
    expect(st.bytes).toBeLessThanOrEqual(maxBytes);
    expect(st.entries).toBeGreaterThanOrEqual(8);
    expect(st.entries).toBeLessThanOrEqual(14);
    // The newest is still there; the oldest was evicted and is rebuilt.
    let rebuilt = 0;
    cache.sotw(TYPE.ENDPOINT, 'v39', () => (rebuilt++, list.slice(39, 40)));
    cache.sotw(TYPE.ENDPOINT, 'v0', () => (rebuilt++, list.slice(0, 1)));
    expect(rebuilt).toBe(1);
    // A body asked for only once is never kept.
    const entries = cache.stats().entries;
    cache.sotw(TYPE.ENDPOINT, 'once', () => list.slice(0, 2));
    expect(cache.stats().entries).toBe(entries);
  });
});
