// State-of-the-world protocol: what each request is answered with, exactly.
import { describe, expect, it } from 'vitest';
import { cla, edsCluster, harness, listener, nextAndAck, pick, route, staticCluster, TYPE, versionFor, type Json } from './fixtures.js';

const h = harness();

const WORLD: Json[] = [
  staticCluster('b', 8081),
  staticCluster('a', 8080),
  edsCluster('X'),
  cla('X', 9000),
  cla('Y', 9001),
  listener('l1', 'r1'),
  route('r1', 'X'),
  route('r2', 'a'),
];

describe('SotW: first request on a stream', () => {
  it('gets a full answer even if version_info equals the current version (reconnect to another replica, RELIABILITY 8)', async () => {
    const a = await h.start();
    const snap = a.set('node-1', WORLD);
    const first = h.client(a.address).sotw();
    first.subscribe(TYPE.CLUSTER, []);
    const r1 = await first.next();
    const version = snap.typeVersion(TYPE.CLUSTER);
    expect(r1.version_info).toBe(version);
    expect(r1.type_url).toBe(TYPE.CLUSTER);
    expect(r1.nonce).not.toBe('');

    // The proxy reconnects (here: to a second replica with the same input) and says it already
    // has `version`; it must still get the full state, because it cannot be trusted to hold it.
    const b = await h.start();
    b.set('node-1', WORLD);
    for (const address of [a.address, b.address]) {
      const s = h.client(address).sotw();
      s.send({ type_url: TYPE.CLUSTER, version_info: version, resource_names: [], response_nonce: '' });
      const r = await s.next();
      expect(r.version_info).toBe(version);
      expect(r.names).toEqual(['X', 'a', 'b']);
      expect(r.resources.map((x) => x.json)).toEqual(pick(WORLD, TYPE.CLUSTER, 'X', 'a', 'b'));
      s.ack(r);
      await s.expectNoResponse();
    }
  });
});

describe('SotW: a proxy without a snapshot yet', () => {
  it('waits, and gets a full answer for every requested type once its group is set', async () => {
    const srv = await h.start();
    const s = h.client(srv.address, { node: { id: 'late', cluster: 'c1' } }).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    s.subscribe(TYPE.ENDPOINT, ['X']);
    await s.expectNoResponse();
    srv.set('other-group', WORLD);
    await s.expectNoResponse();
    const snap = srv.set('late', WORLD);
    const cds = await nextAndAck(s);
    expect(cds).toMatchObject({ type_url: TYPE.CLUSTER, names: ['X', 'a', 'b'], version_info: snap.typeVersion(TYPE.CLUSTER) });
    const eds = await nextAndAck(s);
    expect(eds).toMatchObject({ type_url: TYPE.ENDPOINT, names: ['X'], version_info: versionFor(snap, TYPE.ENDPOINT, ['X']) });
    await s.expectNoResponse();
    expect(srv.server.board.view()[0]!.group).toBe('late');
  });
});

describe('SotW: wildcard', () => {
  it('legacy empty resource_names is a wildcard subscription (CDS and LDS)', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    const cds = await nextAndAck(s);
    expect(cds).toMatchObject({ type_url: TYPE.CLUSTER, version_info: snap.typeVersion(TYPE.CLUSTER), names: ['X', 'a', 'b'] });
    expect(cds.resources.map((r) => r.json)).toEqual(pick(WORLD, TYPE.CLUSTER, 'X', 'a', 'b'));
    // As Envoy does, ask for the new EDS cluster's endpoints: listeners wait until they are sent.
    s.subscribe(TYPE.ENDPOINT, ['X']);
    await nextAndAck(s);
    s.subscribe(TYPE.LISTENER, []);
    const lds = await nextAndAck(s);
    expect(lds).toMatchObject({ type_url: TYPE.LISTENER, version_info: snap.typeVersion(TYPE.LISTENER), names: ['l1'] });
    expect(lds.resources.map((r) => r.json)).toEqual(pick(WORLD, TYPE.LISTENER, 'l1'));
    // Repeating the empty list keeps the legacy wildcard: a new cluster is pushed.
    const snap2 = srv.set('node-1', [...WORLD, staticCluster('c', 8082)]);
    const push = await nextAndAck(s);
    expect(push).toMatchObject({ type_url: TYPE.CLUSTER, version_info: snap2.typeVersion(TYPE.CLUSTER), names: ['X', 'a', 'b', 'c'] });
    await s.expectNoResponse();
  });

  it('explicit "*" is a wildcard subscription with the same answer as the legacy form', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', WORLD);
    const c = h.client(srv.address);
    const legacy = c.sotw();
    legacy.subscribe(TYPE.CLUSTER, []);
    const explicit = c.sotw();
    explicit.subscribe(TYPE.CLUSTER, ['*']);
    const [l, e] = [await legacy.next(), await explicit.next()];
    expect(e.version_info).toBe(snap.typeVersion(TYPE.CLUSTER));
    expect(e.version_info).toBe(l.version_info);
    expect(e.names).toEqual(['X', 'a', 'b']);
    expect(e.resources.map((r) => r.bytes)).toEqual(l.resources.map((r) => r.bytes));
  });

  it('"*" plus names returns everything; dropping "*" narrows to the names; a non-first empty list unsubscribes all', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.CLUSTER, ['*', 'a', 'not-yet']);
    const all = await nextAndAck(s);
    expect(all.names).toEqual(['X', 'a', 'b']);
    expect(all.version_info).toBe(snap.typeVersion(TYPE.CLUSTER));

    s.subscribe(TYPE.CLUSTER, ['a', 'not-yet'], all.nonce);
    const onlyA = await nextAndAck(s);
    expect(onlyA.names).toEqual(['a']);
    expect(onlyA.version_info).toBe(versionFor(snap, TYPE.CLUSTER, ['a']));
    expect(onlyA.resources.map((r) => r.json)).toEqual(pick(WORLD, TYPE.CLUSTER, 'a'));

    // A name that was explicitly subscribed under "*" is delivered when it appears.
    const snap2 = srv.set('node-1', [...WORLD, staticCluster('not-yet', 8090)]);
    const appeared = await nextAndAck(s);
    expect(appeared.names).toEqual(['a', 'not-yet']);
    expect(appeared.version_info).toBe(versionFor(snap2, TYPE.CLUSTER, ['a', 'not-yet']));

    // After names were used, an empty list is "unsubscribe from everything", not a wildcard.
    s.subscribe(TYPE.CLUSTER, [], appeared.nonce);
    const none = await nextAndAck(s);
    expect(none.names).toEqual([]);
    expect(none.version_info).toBe(versionFor(snap2, TYPE.CLUSTER, []));

    s.subscribe(TYPE.CLUSTER, ['*'], none.nonce);
    const again = await nextAndAck(s);
    expect(again.names).toEqual(['X', 'a', 'b', 'not-yet']);
    expect(again.version_info).toBe(snap2.typeVersion(TYPE.CLUSTER));
  });
});

describe('SotW: named subscriptions', () => {
  it('EDS and RDS return only the requested names', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['Y']);
    const eds = await nextAndAck(s);
    expect(eds).toMatchObject({ type_url: TYPE.ENDPOINT, names: ['Y'], version_info: versionFor(snap, TYPE.ENDPOINT, ['Y']) });
    expect(eds.resources.map((r) => r.json)).toEqual(pick(WORLD, TYPE.ENDPOINT, 'Y'));
    s.subscribe(TYPE.ROUTE, ['r2']);
    const rds = await nextAndAck(s);
    expect(rds).toMatchObject({ type_url: TYPE.ROUTE, names: ['r2'], version_info: versionFor(snap, TYPE.ROUTE, ['r2']) });
    expect(rds.resources.map((r) => r.json)).toEqual(pick(WORLD, TYPE.ROUTE, 'r2'));

    // A change to a resource nobody on this stream asked for is not pushed.
    srv.set('node-1', WORLD.map((r) => (r['cluster_name'] === 'X' ? cla('X', 9999) : r['name'] === 'r1' ? route('r1', 'b') : r)));
    await s.expectNoResponse();
  });

  it('the per-type services serve their own type (EDS and RDS)', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', WORLD);
    const c = h.client(srv.address);
    const eds = c.sotw('eds');
    eds.send({ resource_names: ['X', 'Y'] });
    const e = await eds.next();
    expect(e).toMatchObject({ type_url: TYPE.ENDPOINT, names: ['X', 'Y'], version_info: versionFor(snap, TYPE.ENDPOINT, ['X', 'Y']) });
    const rds = c.sotw('rds');
    rds.send({ type_url: '', resource_names: ['r1'] }); // the type is implied by the service
    const r = await rds.next();
    expect(r).toMatchObject({ type_url: TYPE.ROUTE, names: ['r1'], version_info: versionFor(snap, TYPE.ROUTE, ['r1']) });
    expect(r.resources.map((x) => x.json)).toEqual(pick(WORLD, TYPE.ROUTE, 'r1'));
  });

  it('a name requested before it exists is pushed when it appears (go-control-plane #488)', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['Z']);
    const empty = await nextAndAck(s);
    expect(empty).toMatchObject({ type_url: TYPE.ENDPOINT, names: [], version_info: versionFor(snap, TYPE.ENDPOINT, []) });
    await s.expectNoResponse();
    const snap2 = srv.set('node-1', [...WORLD, cla('Z', 7000)]);
    const z = await nextAndAck(s);
    expect(z).toMatchObject({ type_url: TYPE.ENDPOINT, names: ['Z'], version_info: versionFor(snap2, TYPE.ENDPOINT, ['Z']) });
    expect(z.resources.map((r) => r.json)).toEqual([cla('Z', 7000)]);
  });

  it('unsubscribe then resubscribe is answered again even if nothing changed (go-control-plane #431)', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y']);
    const both = await nextAndAck(s);
    expect(both.names).toEqual(['X', 'Y']);

    // Narrowing needs no answer: the proxy drops Y itself and holds X (EDS responses are not
    // the full state, so there is nothing to tell it).
    s.subscribe(TYPE.ENDPOINT, ['X'], both.nonce);
    await s.expectNoResponse();

    // Asking for Y again is answered with Y, even though nothing changed since it had it.
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y'], both.nonce);
    const again = await nextAndAck(s);
    expect(again.names).toEqual(['Y']);
    expect(again.version_info).toBe(both.version_info);
    expect(again.resources.map((r) => r.bytes)).toEqual(both.resources.filter((r) => r.name === 'Y').map((r) => r.bytes));
    expect(again.nonce).not.toBe(both.nonce);

    // Unsubscribing everything and coming back is answered too.
    s.subscribe(TYPE.ENDPOINT, [], again.nonce);
    await s.expectNoResponse();
    s.subscribe(TYPE.ENDPOINT, ['Y'], again.nonce);
    const y = await nextAndAck(s);
    expect(y.names).toEqual(['Y']);
    expect(y.version_info).toBe(versionFor(snap, TYPE.ENDPOINT, ['Y']));
    expect(y.resources.map((r) => r.json)).toEqual(pick(WORLD, TYPE.ENDPOINT, 'Y'));
    await s.expectNoResponse();
  });

  it('a request repeating the current subscription (same version, same nonce) gets no response', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['X']);
    const r = await nextAndAck(s);
    s.ack(r);
    s.ack(r);
    await s.expectNoResponse();
  });
});

describe('SotW: pushes', () => {
  it('a changed type is pushed; unchanged types are not re-sent', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    s.subscribe(TYPE.ENDPOINT, ['X']);
    s.subscribe(TYPE.LISTENER, []);
    s.subscribe(TYPE.ROUTE, ['r1']);
    const initial = [await nextAndAck(s), await nextAndAck(s), await nextAndAck(s), await nextAndAck(s)];
    expect(initial.map((r) => r.type_url)).toEqual([TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.LISTENER, TYPE.ROUTE]);
    await s.expectNoResponse();

    const changed = WORLD.map((r) => (r['name'] === 'r1' ? route('r1', 'X', '/api') : r));
    const snap2 = srv.set('node-1', changed);
    const rds = await nextAndAck(s);
    expect(rds).toMatchObject({ type_url: TYPE.ROUTE, names: ['r1'], version_info: versionFor(snap2, TYPE.ROUTE, ['r1']) });
    expect(rds.resources.map((r) => r.json)).toEqual([route('r1', 'X', '/api')]);
    await s.expectNoResponse(500);

    // Setting an identical snapshot again pushes nothing at all.
    srv.set('node-1', changed);
    await s.expectNoResponse();
  });

  it('a snapshot change for one group wakes only that group\'s streams', async () => {
    const srv = await h.start();
    srv.set('g1', WORLD);
    const snapG2 = srv.set('g2', WORLD);
    const s1 = h.client(srv.address, { node: { id: 'g1' } }).sotw();
    const s2 = h.client(srv.address, { node: { id: 'g2' } }).sotw();
    s1.subscribe(TYPE.CLUSTER, []);
    s2.subscribe(TYPE.CLUSTER, []);
    await nextAndAck(s1);
    const g2first = await nextAndAck(s2);
    expect(g2first.version_info).toBe(snapG2.typeVersion(TYPE.CLUSTER));

    const snapG1 = srv.set('g1', [...WORLD, staticCluster('c')]);
    const pushed = await nextAndAck(s1);
    expect(pushed.names).toEqual(['X', 'a', 'b', 'c']);
    expect(pushed.version_info).toBe(snapG1.typeVersion(TYPE.CLUSTER));
    await s2.expectNoResponse(500);
    expect(srv.server.board.view().find((v) => v.nodeId === 'g2')?.types['CDS']?.versionAcked).toBe(snapG2.typeVersion(TYPE.CLUSTER));
  });

  it('a subscription change sent with a stale nonce while a response is in flight is honoured (RELIABILITY 2, Envoy #10363)', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['X']);
    const r1 = await nextAndAck(s);
    expect(r1.names).toEqual(['X']);

    // A push (r2) is in flight; before seeing it the client widens its subscription, quoting
    // the nonce of r1, which is stale by now.
    const snap2 = srv.set('node-1', WORLD.map((r) => (r['cluster_name'] === 'X' ? cla('X', 9100) : r)));
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y'], r1.nonce);
    const r2 = await s.next();
    expect(r2.names).toEqual(['X']);
    expect(r2.resources.map((r) => r.json)).toEqual([cla('X', 9100)]);
    expect(r2.nonce).not.toBe(r1.nonce);
    // Only the in-flight response is outstanding: the widened subscription waits for its ACK.
    await s.expectNoResponse();
    s.ack(r2, ['X', 'Y']);
    // Y, which it asked for; not X again, which it holds at this version since r2.
    const r3 = await nextAndAck(s);
    expect(r3.names).toEqual(['Y']);
    expect(r3.version_info).toBe(versionFor(snap2, TYPE.ENDPOINT, ['X', 'Y']));
    expect(r3.resources.map((r) => r.json)).toEqual([cla('Y', 9001)]);
    await s.expectNoResponse();

    // With nothing in flight, a change quoting an old nonce is still a change (not dropped):
    // the proxy dropped X, and asked again it gets X.
    s.subscribe(TYPE.ENDPOINT, ['Y'], r1.nonce);
    await s.expectNoResponse();
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y'], r1.nonce);
    const r4 = await nextAndAck(s);
    expect(r4.names).toEqual(['X']);
    expect(r4.version_info).toBe(versionFor(snap2, TYPE.ENDPOINT, ['X', 'Y']));
  });

  it('at most one un-ACKed response per type: changes during the wait collapse into one response with the latest (RELIABILITY 29)', async () => {
    const srv = await h.start();
    srv.set('node-1', [staticCluster('a')]);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    await nextAndAck(s);

    srv.set('node-1', [staticCluster('a'), staticCluster('v2')]);
    const r2 = await s.next(); // not ACKed yet
    expect(r2.names).toEqual(['a', 'v2']);
    let last = srv.set('node-1', [staticCluster('a'), staticCluster('v3')]);
    for (let i = 4; i <= 20; i++) last = srv.set('node-1', [staticCluster('a'), staticCluster(`v${i}`)]);
    await s.expectNoResponse(500);
    expect(srv.server.board.view()[0]?.types['CDS']?.pending).toBe(true);

    s.ack(r2);
    const r3 = await nextAndAck(s);
    expect(r3.names).toEqual(['a', 'v20']);
    expect(r3.version_info).toBe(last.typeVersion(TYPE.CLUSTER));
    await s.expectNoResponse();
    const status = srv.server.board.view()[0]?.types['CDS'];
    expect(status).toMatchObject({ versionSent: last.typeVersion(TYPE.CLUSTER), versionAcked: last.typeVersion(TYPE.CLUSTER), pending: false });
  });
});

describe('SotW: names that select the whole type', () => {
  it('are answered with the whole type and its version, the same as the list would give; a subset or extra missing names are answered by name', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['Y', 'X']);
    const all = await nextAndAck(s);
    expect(all).toMatchObject({ type_url: TYPE.ENDPOINT, names: ['X', 'Y'], version_info: snap.typeVersion(TYPE.ENDPOINT) });
    expect(all.version_info).toBe(versionFor(snap, TYPE.ENDPOINT, ['X', 'Y']));
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y', 'Z-missing']);
    await s.expectNoResponse(); // the same resources, the same version: nothing to send
    // A subset on a new stream is answered by name, with the subset's own version.
    const t = h.client(srv.address).sotw();
    t.subscribe(TYPE.ENDPOINT, ['Y']);
    const one = await nextAndAck(t);
    expect(one).toMatchObject({ names: ['Y'], version_info: versionFor(snap, TYPE.ENDPOINT, ['Y']) });
    expect(one.version_info).not.toBe(snap.typeVersion(TYPE.ENDPOINT));
  });
});

/** WORLD with cluster `name`'s assignment on another port. */
const withPort = (name: string, port: number): Json[] => WORLD.map((r) => (r['cluster_name'] === name ? cla(name, port) : r));

describe('SotW: names that select the whole type, from one snapshot to the next', () => {
  it('a change of a resource keeps the whole type; a resource not asked for makes it an answer by name; asked for, the whole type again', async () => {
    // (The stream remembers whether its names cover the last map and carries that from map to
    // map by their difference: each of these steps takes another branch of it.)
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y']);
    await nextAndAck(s);
    let snap = srv.set('node-1', withPort('X', 9501));
    const changed = await nextAndAck(s);
    expect(changed.version_info).toBe(snap.typeVersion(TYPE.ENDPOINT));
    snap = srv.set('node-1', [...withPort('X', 9501), cla('Z', 9502)]);
    await s.expectNoResponse(); // Z is not asked for: what the names select did not change
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y'], changed.nonce); // (the same names again)
    await s.expectNoResponse();
    snap = srv.set('node-1', [...withPort('X', 9503), cla('Z', 9502)]);
    const byName = await nextAndAck(s);
    expect(byName.names).toEqual(['X']);
    expect(byName.version_info).toBe(versionFor(snap, TYPE.ENDPOINT, ['X', 'Y']));
    expect(byName.version_info).not.toBe(snap.typeVersion(TYPE.ENDPOINT));
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y', 'Z'], byName.nonce);
    const all = await nextAndAck(s);
    expect(all.names).toEqual(['Z']);
    expect(all.version_info).toBe(snap.typeVersion(TYPE.ENDPOINT));
  });
});

describe('SotW: EDS responses carry what the proxy does not hold (EDS is not the full state)', () => {

  it('one assignment changed: only it is sent, with the version of the whole set; a new stream gets them all', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y']);
    expect((await nextAndAck(s)).names).toEqual(['X', 'Y']);
    const snap = srv.set('node-1', withPort('Y', 9201));
    const part = await nextAndAck(s);
    expect(part.names).toEqual(['Y']);
    expect(part.resources.map((r) => r.json)).toEqual([cla('Y', 9201)]);
    expect(part.version_info).toBe(versionFor(snap, TYPE.ENDPOINT, ['X', 'Y']));
    await s.expectNoResponse();
    // What the proxy holds is what the whole answer would have been: a reconnect gets it all.
    const again = h.client(srv.address).sotw();
    again.subscribe(TYPE.ENDPOINT, ['X', 'Y']);
    const whole = await nextAndAck(again);
    expect(whole.names).toEqual(['X', 'Y']);
    expect(whole.version_info).toBe(part.version_info);
    expect(whole.resources.map((r) => r.json)).toEqual([cla('X', 9000), cla('Y', 9201)]);
  });

  it('a NACKed response counts as not held: the next change sends the rejected assignment again with the new one', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y']);
    await nextAndAck(s);
    srv.set('node-1', withPort('Y', 9301));
    const rejected = await s.next();
    expect(rejected.names).toEqual(['Y']);
    s.nack(rejected, 'no');
    await s.expectNoResponse();
    srv.set('node-1', withPort('Y', 9301).map((r) => (r['cluster_name'] === 'X' ? cla('X', 9302) : r)));
    const next = await nextAndAck(s);
    expect(next.names).toEqual(['X', 'Y']);
    expect(next.resources.map((r) => r.json)).toEqual([cla('X', 9302), cla('Y', 9301)]);
  });

  it('streams in the same state share one partial body (only the nonce differs)', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const streams = [h.client(srv.address).sotw(), h.client(srv.address).sotw(), h.client(srv.address).sotw()];
    for (const s of streams) {
      s.subscribe(TYPE.ENDPOINT, ['X', 'Y']);
      await nextAndAck(s);
    }
    const before = srv.server.responseCache.stats();
    srv.set('node-1', withPort('X', 9401));
    const parts = await Promise.all(streams.map((s) => nextAndAck(s)));
    expect(parts.map((p) => p.names)).toEqual([['X'], ['X'], ['X']]);
    expect(new Set(parts.map((p) => p.version_info)).size).toBe(1);
    const after = srv.server.responseCache.stats();
    // Two bodies per stream (the whole set's, for bookkeeping, and the part). A body is kept
    // from its second request on (response-cache.ts), so the third stream takes both from it.
    expect(after.misses - before.misses).toBe(4);
    expect(after.hits - before.hits).toBe(2);
  });
});
