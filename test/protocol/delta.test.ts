// Incremental (Delta) xDS: subscriptions, only-what-changed, removals, reconnects.
import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/xds/snapshot.js';
import type { TypeUrl } from '../../src/xds/type-urls.js';
import type { DeltaResponse } from '../helpers/xds-client.js';
import { cla, harness, nextDeltaAndAck, staticCluster, TYPE, type Json } from './fixtures.js';

const h = harness();

/** name → version as the server should send them. */
function versions(snap: Snapshot, t: TypeUrl, ...names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, snap.get(t, n)!.version]));
}

function got(r: DeltaResponse): Record<string, string> {
  return Object.fromEntries(r.resources.map((x) => [x.name, x.version]));
}

const CLUSTERS: Json[] = [staticCluster('a', 1), staticCluster('b', 2), staticCluster('c', 3)];
const ENDPOINTS: Json[] = [cla('X', 1), cla('Y', 2), cla('Z', 3)];

describe('Delta: subscriptions', () => {
  it('subscribe and unsubscribe are honoured whatever the nonce (RELIABILITY 2)', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', ENDPOINTS);
    const d = h.client(srv.address).delta();
    d.subscribe(TYPE.ENDPOINT, ['X']);
    const r1 = await d.next();
    expect(r1).toMatchObject({ type_url: TYPE.ENDPOINT, names: ['X'], removed_resources: [], system_version_info: snap.typeVersion(TYPE.ENDPOINT) });
    expect(got(r1)).toEqual(versions(snap, TYPE.ENDPOINT, 'X'));
    expect(r1.resources[0]!.resource.json).toEqual(cla('X', 1));

    // While r1 is un-ACKed, change the subscription with a nonce the server never sent.
    d.send({ type_url: TYPE.ENDPOINT, resource_names_subscribe: ['Y'], resource_names_unsubscribe: ['X'], response_nonce: 'no-such-nonce' });
    await d.expectNoResponse(300); // one response in flight at a time
    d.ack(r1);
    const r2 = await nextDeltaAndAck(d);
    expect(r2.names).toEqual(['Y']);
    expect(r2.removed_resources).toEqual([]);
    expect(r2.resources[0]!.resource.json).toEqual(cla('Y', 2));
    expect(srv.server.board.view()[0]!.types['EDS']!.subscribed).toEqual(['Y']);

    // X is no longer subscribed: its changes are not pushed; Y's are.
    srv.set('node-1', [cla('X', 10), cla('Y', 2), cla('Z', 3)]);
    await d.expectNoResponse();
    // And a subscription change with an old nonce after ACKs is honoured too.
    d.send({ type_url: TYPE.ENDPOINT, resource_names_subscribe: ['Z'], response_nonce: r1.nonce });
    const r3 = await nextDeltaAndAck(d);
    expect(r3.names).toEqual(['Z']);
  });

  it('only changed resources are sent; deleted ones are listed in removed_resources', async () => {
    const srv = await h.start();
    const s1 = srv.set('node-1', CLUSTERS);
    const d = h.client(srv.address).delta();
    d.subscribe(TYPE.CLUSTER);
    const r1 = await nextDeltaAndAck(d);
    expect(r1.names).toEqual(['a', 'b', 'c']);
    expect(got(r1)).toEqual(versions(s1, TYPE.CLUSTER, 'a', 'b', 'c'));
    expect(r1.resources.map((r) => r.resource.json)).toEqual(CLUSTERS);
    expect(r1.system_version_info).toBe(s1.typeVersion(TYPE.CLUSTER));

    const s2 = srv.set('node-1', [staticCluster('a', 1), staticCluster('b', 20), staticCluster('c', 3), staticCluster('d', 4)]);
    const r2 = await nextDeltaAndAck(d);
    expect(r2.names).toEqual(['b', 'd']);
    expect(got(r2)).toEqual(versions(s2, TYPE.CLUSTER, 'b', 'd'));
    expect(r2.resources.map((r) => r.resource.json)).toEqual([staticCluster('b', 20), staticCluster('d', 4)]);
    expect(r2.removed_resources).toEqual([]);
    expect(r2.system_version_info).toBe(s2.typeVersion(TYPE.CLUSTER));

    const s3 = srv.set('node-1', [staticCluster('b', 20), staticCluster('d', 4)]);
    const r3 = await nextDeltaAndAck(d);
    expect(r3.names).toEqual([]);
    expect(r3.removed_resources).toEqual(['a', 'c']);
    expect(r3.system_version_info).toBe(s3.typeVersion(TYPE.CLUSTER));
    await d.expectNoResponse();
  });

  it('reconnect with initial_resource_versions: unchanged not resent, changed resent, deleted removed (RELIABILITY 7, Istio #41494)', async () => {
    const srv = await h.start();
    const s1 = srv.set('node-1', [...CLUSTERS, ...ENDPOINTS]);
    const c = h.client(srv.address);
    const first = c.delta();
    first.subscribe(TYPE.CLUSTER);
    const cds = await nextDeltaAndAck(first);
    first.subscribe(TYPE.ENDPOINT, ['X', 'Y', 'Z']);
    const eds = await nextDeltaAndAck(first);
    expect(got(cds)).toEqual(versions(s1, TYPE.CLUSTER, 'a', 'b', 'c'));
    expect(got(eds)).toEqual(versions(s1, TYPE.ENDPOINT, 'X', 'Y', 'Z'));
    first.cancel();
    await first.status();

    // While the proxy is away: b and Y change, c and Z are deleted, d appears.
    const s2 = srv.set('node-1', [staticCluster('a', 1), staticCluster('b', 20), staticCluster('d', 4), cla('X', 1), cla('Y', 20)]);
    const again = c.delta();
    again.send({ type_url: TYPE.CLUSTER, initial_resource_versions: got(cds) });
    const cds2 = await nextDeltaAndAck(again);
    expect(cds2.names).toEqual(['b', 'd']);
    expect(got(cds2)).toEqual(versions(s2, TYPE.CLUSTER, 'b', 'd'));
    expect(cds2.removed_resources).toEqual(['c']);
    again.send({ type_url: TYPE.ENDPOINT, resource_names_subscribe: ['X', 'Y', 'Z'], initial_resource_versions: got(eds) });
    const eds2 = await nextDeltaAndAck(again);
    expect(eds2.names).toEqual(['Y']);
    expect(eds2.resources[0]!.resource.json).toEqual(cla('Y', 20));
    expect(eds2.removed_resources).toEqual(['Z']);
    await again.expectNoResponse();

    // Z reappears: it is still subscribed, so it is sent.
    const s3 = srv.set('node-1', [staticCluster('a', 1), staticCluster('b', 20), staticCluster('d', 4), cla('X', 1), cla('Y', 20), cla('Z', 3)]);
    const eds3 = await nextDeltaAndAck(again);
    expect(got(eds3)).toEqual(versions(s3, TYPE.ENDPOINT, 'Z'));
  });

  it('reconnect where nothing changed gets an empty response and nothing is resent', async () => {
    const srv = await h.start();
    srv.set('node-1', CLUSTERS);
    const c = h.client(srv.address);
    const first = c.delta();
    first.subscribe(TYPE.CLUSTER);
    const cds = await nextDeltaAndAck(first);
    first.cancel();
    const again = c.delta();
    again.send({ type_url: TYPE.CLUSTER, initial_resource_versions: got(cds) });
    const r = await nextDeltaAndAck(again);
    expect(r.names).toEqual([]);
    expect(r.removed_resources).toEqual([]);
    await again.expectNoResponse();
  });

  it('legacy wildcard (empty first subscribe) and explicit "*" both receive every resource, including new ones', async () => {
    const srv = await h.start();
    const s1 = srv.set('node-1', CLUSTERS);
    const c = h.client(srv.address);
    const legacy = c.delta();
    legacy.send({ type_url: TYPE.CLUSTER });
    const explicit = c.delta();
    explicit.subscribe(TYPE.CLUSTER, ['*']);
    const [l, e] = [await nextDeltaAndAck(legacy), await nextDeltaAndAck(explicit)];
    for (const r of [l, e]) {
      expect(r.names).toEqual(['a', 'b', 'c']);
      expect(got(r)).toEqual(versions(s1, TYPE.CLUSTER, 'a', 'b', 'c'));
    }
    const s2 = srv.set('node-1', [...CLUSTERS, staticCluster('d', 4)]);
    for (const d of [legacy, explicit]) {
      const r = await nextDeltaAndAck(d);
      expect(got(r)).toEqual(versions(s2, TYPE.CLUSTER, 'd'));
    }
  });

  it('a first request naming resources is not a wildcard; "*" plus names; unsubscribing "*" keeps the names', async () => {
    const srv = await h.start();
    srv.set('node-1', CLUSTERS);
    const d = h.client(srv.address).delta();
    d.subscribe(TYPE.CLUSTER, ['a']);
    const r1 = await nextDeltaAndAck(d);
    expect(r1.names).toEqual(['a']);
    srv.set('node-1', [...CLUSTERS, staticCluster('d', 4)]);
    await d.expectNoResponse();

    d.subscribe(TYPE.CLUSTER, ['*']);
    const r2 = await nextDeltaAndAck(d);
    expect(r2.names).toEqual(['b', 'c', 'd']); // a is already held at its current version
    d.subscribe(TYPE.CLUSTER, [], ['*']);
    await d.expectNoResponse();
    expect(srv.server.board.view()[0]!.types['CDS']!.subscribed).toEqual(['a']);
    // Only a is subscribed now: a change to b is not pushed, a change to a is.
    srv.set('node-1', [staticCluster('a', 1), staticCluster('b', 22), staticCluster('c', 3), staticCluster('d', 4)]);
    await d.expectNoResponse();
    srv.set('node-1', [staticCluster('a', 11), staticCluster('b', 22), staticCluster('c', 3), staticCluster('d', 4)]);
    const r3 = await nextDeltaAndAck(d);
    expect(r3.names).toEqual(['a']);
    expect(r3.resources[0]!.resource.json).toEqual(staticCluster('a', 11));
  });

  it('unsubscribe then resubscribe resends the resource even if unchanged', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', ENDPOINTS);
    const d = h.client(srv.address).delta();
    d.subscribe(TYPE.ENDPOINT, ['X', 'Y']);
    const r1 = await nextDeltaAndAck(d);
    expect(r1.names).toEqual(['X', 'Y']);
    d.subscribe(TYPE.ENDPOINT, [], ['X']);
    await d.expectNoResponse();
    d.subscribe(TYPE.ENDPOINT, ['X']);
    const r2 = await nextDeltaAndAck(d);
    expect(r2.names).toEqual(['X']);
    expect(got(r2)).toEqual(versions(snap, TYPE.ENDPOINT, 'X'));
    expect(r2.resources[0]!.resource.bytes).toEqual(r1.resources[0]!.resource.bytes);
    await d.expectNoResponse();
  });

  it('a repeated subscribe without unsubscribe (Envoy batches remove-then-add as an add) resends, also under a wildcard', async () => {
    const srv = await h.start();
    const snap = srv.set('node-1', CLUSTERS);
    const d = h.client(srv.address).delta();
    d.subscribe(TYPE.CLUSTER, ['*', 'a']);
    const r1 = await nextDeltaAndAck(d);
    expect(r1.names).toEqual(['a', 'b', 'c']);
    // Envoy's user forgot its copy of "a" and asks again: it must get it again.
    d.subscribe(TYPE.CLUSTER, ['a']);
    const r2 = await nextDeltaAndAck(d);
    expect(got(r2)).toEqual(versions(snap, TYPE.CLUSTER, 'a'));
    // Unsubscribing "b" under the wildcard keeps it (the wildcard still selects it); subscribing
    // to it explicitly afterwards resends it.
    d.subscribe(TYPE.CLUSTER, [], ['b']);
    await d.expectNoResponse();
    d.subscribe(TYPE.CLUSTER, ['b']);
    const r3 = await nextDeltaAndAck(d);
    expect(got(r3)).toEqual(versions(snap, TYPE.CLUSTER, 'b'));
    await d.expectNoResponse();
  });

  it('a name subscribed before it exists is sent when it appears, and removed when it goes', async () => {
    const srv = await h.start();
    srv.set('node-1', ENDPOINTS);
    const d = h.client(srv.address).delta('eds');
    d.send({ resource_names_subscribe: ['W'] });
    const r1 = await nextDeltaAndAck(d);
    expect(r1).toMatchObject({ type_url: TYPE.ENDPOINT, names: [], removed_resources: [] });
    const s2 = srv.set('node-1', [...ENDPOINTS, cla('W', 7)]);
    const r2 = await nextDeltaAndAck(d);
    expect(got(r2)).toEqual(versions(s2, TYPE.ENDPOINT, 'W'));
    srv.set('node-1', ENDPOINTS);
    const r3 = await nextDeltaAndAck(d);
    expect(r3.names).toEqual([]);
    expect(r3.removed_resources).toEqual(['W']);
  });
});
