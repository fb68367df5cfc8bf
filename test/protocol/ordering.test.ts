// ADS ordering, cluster warming and make-before-break (RELIABILITY 5 and 6).
import { describe, expect, it } from 'vitest';
import type { DeltaStream, SotwStream } from '../helpers/xds-client.js';
import { cla, edsCluster, harness, listener, nextAndAck, nextDeltaAndAck, route, secret, TYPE, versionFor, type Json } from './fixtures.js';

const h = harness();

function world(opts: { cluster?: string; timeout?: string; port?: number; prefix?: string; secretValue?: string; listenerPrefix?: string } = {}): Json[] {
  const c = opts.cluster ?? 'X';
  return [
    edsCluster(c, opts.timeout ?? '1s'),
    cla(c, opts.port ?? 9000),
    listener('l1', 'r1', 10000, opts.listenerPrefix ?? 'ingress'),
    route('r1', c, opts.prefix ?? '/'),
    secret('s1', opts.secretValue ?? 'one'),
  ];
}

const ORDER = [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.LISTENER, TYPE.ROUTE, TYPE.SECRET];

/** Subscribe like Envoy over SotW ADS (CDS *, EDS by cluster, LDS *, RDS by listener, SDS) and ACK everything. */
async function sotwConfigured(s: SotwStream, eds: string[] = ['X']): Promise<void> {
  s.subscribe(TYPE.CLUSTER, []);
  await nextAndAck(s);
  s.subscribe(TYPE.ENDPOINT, eds);
  await nextAndAck(s);
  s.subscribe(TYPE.LISTENER, []);
  await nextAndAck(s);
  s.subscribe(TYPE.ROUTE, ['r1']);
  await nextAndAck(s);
  s.subscribe(TYPE.SECRET, ['s1']);
  await nextAndAck(s);
  await s.expectNoResponse(200);
}

async function deltaConfigured(d: DeltaStream, eds: string[] = ['X']): Promise<void> {
  d.subscribe(TYPE.CLUSTER);
  await nextDeltaAndAck(d);
  d.subscribe(TYPE.ENDPOINT, eds);
  await nextDeltaAndAck(d);
  d.subscribe(TYPE.LISTENER);
  await nextDeltaAndAck(d);
  d.subscribe(TYPE.ROUTE, ['r1']);
  await nextDeltaAndAck(d);
  d.subscribe(TYPE.SECRET, ['s1']);
  await nextDeltaAndAck(d);
  await d.expectNoResponse(200);
}

describe('ADS ordering', () => {
  it('SotW: a snapshot changing every type is pushed in the order CDS, EDS, LDS, RDS, SDS', async () => {
    const srv = await h.start();
    srv.set('node-1', world());
    const s = h.client(srv.address).sotw();
    await sotwConfigured(s);
    const snap = srv.set('node-1', world({ timeout: '2s', port: 9001, listenerPrefix: 'in2', prefix: '/v2', secretValue: 'two' }));
    // Nothing is ACKed until all five arrived: they are not held back waiting for ACKs.
    const rs = await s.take(5);
    expect(rs.map((r) => r.type_url)).toEqual(ORDER);
    expect(rs.map((r) => r.version_info)).toEqual([
      snap.typeVersion(TYPE.CLUSTER),
      versionFor(snap, TYPE.ENDPOINT, ['X']),
      snap.typeVersion(TYPE.LISTENER),
      versionFor(snap, TYPE.ROUTE, ['r1']),
      versionFor(snap, TYPE.SECRET, ['s1']),
    ]);
    expect(rs.map((r) => r.resources[0]!.json)).toEqual(world({ timeout: '2s', port: 9001, listenerPrefix: 'in2', prefix: '/v2', secretValue: 'two' }));
    for (const r of rs) s.ack(r);
    await s.expectNoResponse();
  });

  it('Delta: a snapshot changing every type is pushed in the order CDS, EDS, LDS, RDS, SDS', async () => {
    const srv = await h.start();
    srv.set('node-1', world());
    const d = h.client(srv.address).delta();
    await deltaConfigured(d);
    srv.set('node-1', world({ timeout: '2s', port: 9001, listenerPrefix: 'in2', prefix: '/v2', secretValue: 'two' }));
    const rs = await d.take(5);
    expect(rs.map((r) => r.type_url)).toEqual(ORDER);
    expect(rs.map((r) => r.names)).toEqual([['X'], ['X'], ['l1'], ['r1'], ['s1']]);
    for (const r of rs) d.ack(r);
    await d.expectNoResponse();
  });
});

describe('Cluster warming (RELIABILITY 5, Envoy #13009)', () => {
  it('SotW: a changed cluster gets its unchanged ClusterLoadAssignment again, without waiting for the CDS ACK', async () => {
    const srv = await h.start();
    srv.set('node-1', world());
    const s = h.client(srv.address).sotw();
    await sotwConfigured(s);
    const before = s.received.find((r) => r.type_url === TYPE.ENDPOINT)!;
    const snap = srv.set('node-1', world({ timeout: '5s' })); // only the cluster changes
    const cds = await s.next();
    expect(cds.type_url).toBe(TYPE.CLUSTER);
    expect(cds.version_info).toBe(snap.typeVersion(TYPE.CLUSTER));
    // CDS not ACKed yet: EDS follows anyway, with the same assignment.
    const eds = await s.next();
    expect(eds.type_url).toBe(TYPE.ENDPOINT);
    expect(eds.names).toEqual(['X']);
    expect(eds.resources[0]!.bytes).toEqual(before.resources[0]!.bytes);
    expect(eds.version_info).toBe(before.version_info);
    expect(eds.nonce).not.toBe(before.nonce);
    s.ack(cds);
    s.ack(eds);
    await s.expectNoResponse();
  });

  it('SotW: a new cluster whose assignment the proxy already subscribes to gets that assignment again', async () => {
    const srv = await h.start();
    // Y's assignment exists and is subscribed before cluster Y does (e.g. Y was removed and comes back).
    srv.set('node-1', [...world(), cla('Y', 9100)]);
    const s = h.client(srv.address).sotw();
    await sotwConfigured(s, ['X', 'Y']);
    srv.set('node-1', [...world(), cla('Y', 9100), edsCluster('Y')]);
    const cds = await s.next();
    expect(cds.names).toEqual(['X', 'Y']);
    const eds = await s.next();
    expect(eds.type_url).toBe(TYPE.ENDPOINT);
    // Y's assignment again (unchanged, but its cluster is new); X's is not repeated: its
    // cluster did not change, and a SotW EDS response need not carry what the proxy holds.
    expect(eds.names).toEqual(['Y']);
  });

  it('Delta: a changed cluster gets its unchanged ClusterLoadAssignment again, without waiting for the CDS ACK', async () => {
    const srv = await h.start();
    srv.set('node-1', world());
    const d = h.client(srv.address).delta();
    await deltaConfigured(d);
    const before = d.received.find((r) => r.type_url === TYPE.ENDPOINT)!;
    srv.set('node-1', world({ timeout: '5s' }));
    const cds = await d.next();
    expect(cds).toMatchObject({ type_url: TYPE.CLUSTER, names: ['X'], removed_resources: [] });
    const eds = await d.next();
    expect(eds).toMatchObject({ type_url: TYPE.ENDPOINT, names: ['X'], removed_resources: [] });
    expect(eds.resources[0]!.version).toBe(before.resources[0]!.version);
    expect(eds.resources[0]!.resource.bytes).toEqual(before.resources[0]!.resource.bytes);
    d.ack(cds);
    d.ack(eds);
    await d.expectNoResponse();
  });

  it('EDS for a new cluster is answered before CDS is ACKed (Envoy #22377)', async () => {
    const srv = await h.start();
    srv.set('node-1', world());
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    const cds = await s.next();
    // Envoy asks for the assignments of the clusters it is warming before it ACKs CDS.
    s.subscribe(TYPE.ENDPOINT, ['X']);
    const eds = await s.next();
    expect(eds.type_url).toBe(TYPE.ENDPOINT);
    expect(eds.resources.map((r) => r.json)).toEqual([cla('X', 9000)]);
    s.ack(cds);
    s.ack(eds);
    await s.expectNoResponse();
  });
});

describe('Make-before-break (RELIABILITY 6)', () => {
  it('SotW: a route moving from X to Y keeps X in CDS until the new route is ACKed', async () => {
    const srv = await h.start();
    srv.set('node-1', world({ cluster: 'X' }));
    const s = h.client(srv.address).sotw();
    await sotwConfigured(s, ['X']);

    // One snapshot: Y added, route moved to Y, X deleted.
    const snap = srv.set('node-1', world({ cluster: 'Y', port: 9100 }));
    const cds = await s.next();
    expect(cds.type_url).toBe(TYPE.CLUSTER);
    expect(cds.names).toEqual(['X', 'Y']); // X is kept: the route the proxy holds still names it
    expect(cds.resources.map((r) => r.json)).toEqual([edsCluster('X'), edsCluster('Y')]);
    // The route to Y waits until Y's endpoints have been sent: Envoy would otherwise route to a
    // cluster that is still warming and answer 503 (no_cluster).
    await s.expectNoResponse(300);

    // The proxy ACKs CDS and asks for Y's endpoints (X is still warm). No CDS without X yet.
    s.ack(cds);
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y']);
    const eds = await s.next();
    expect(eds.type_url).toBe(TYPE.ENDPOINT);
    // Only Y's assignment: the proxy keeps X's (a SotW EDS response is not the full state).
    expect(eds.names).toEqual(['Y']);
    const rds = await s.next();
    expect(rds.type_url).toBe(TYPE.ROUTE);
    expect(rds.resources.map((r) => r.json)).toEqual([route('r1', 'Y')]);
    expect(rds.version_info).toBe(versionFor(snap, TYPE.ROUTE, ['r1']));
    s.ack(eds);
    await s.expectNoResponse(500);

    // The route no longer names X once ACKed: now X goes.
    s.ack(rds);
    const cds2 = await s.next();
    expect(cds2.type_url).toBe(TYPE.CLUSTER);
    expect(cds2.names).toEqual(['Y']);
    expect(cds2.version_info).toBe(snap.typeVersion(TYPE.CLUSTER));
    s.ack(cds2);
    // X's assignment is not "removed" by an EDS response (omission removes nothing in SotW
    // EDS): the proxy drops it with cluster X and stops asking for it. Nothing else is sent.
    s.subscribe(TYPE.ENDPOINT, ['Y']);
    await s.expectNoResponse();
  });

  it('SotW: if the new route is NACKed, X stays', async () => {
    const srv = await h.start();
    srv.set('node-1', world({ cluster: 'X' }));
    const s = h.client(srv.address).sotw();
    await sotwConfigured(s, ['X']);
    srv.set('node-1', world({ cluster: 'Y', port: 9100 }));
    const cds = await s.next();
    expect(cds.names).toEqual(['X', 'Y']);
    s.ack(cds);
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y']);
    const eds = await s.next();
    s.ack(eds);
    const rds = await s.next();
    expect(rds.type_url).toBe(TYPE.ROUTE);
    s.nack(rds, 'route rejected');
    await s.expectNoResponse(500);
  });

  it('Delta: X appears in removed_resources only after the new route is ACKed', async () => {
    const srv = await h.start();
    srv.set('node-1', world({ cluster: 'X' }));
    const d = h.client(srv.address).delta();
    await deltaConfigured(d, ['X']);

    srv.set('node-1', world({ cluster: 'Y', port: 9100 }));
    const cds = await d.next();
    expect(cds).toMatchObject({ type_url: TYPE.CLUSTER, names: ['Y'], removed_resources: [] });
    // The route to Y waits for Y's endpoints (see the SotW case).
    await d.expectNoResponse(300);

    d.ack(cds);
    d.subscribe(TYPE.ENDPOINT, ['Y']);
    const eds = await nextDeltaAndAck(d);
    expect(eds).toMatchObject({ type_url: TYPE.ENDPOINT, names: ['Y'], removed_resources: [] });
    const rds = await d.next();
    expect(rds).toMatchObject({ type_url: TYPE.ROUTE, names: ['r1'], removed_resources: [] });
    expect(rds.resources[0]!.resource.json).toEqual(route('r1', 'Y'));
    await d.expectNoResponse(500);

    d.ack(rds);
    const cds2 = await nextDeltaAndAck(d);
    expect(cds2).toMatchObject({ type_url: TYPE.CLUSTER, names: [], removed_resources: ['X'] });
    const eds2 = await nextDeltaAndAck(d);
    expect(eds2).toMatchObject({ type_url: TYPE.ENDPOINT, names: [], removed_resources: ['X'] });
    await d.expectNoResponse();
  });
});
