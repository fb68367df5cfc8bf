// ACK and NACK handling (RELIABILITY 1): a NACK is recognised by error_detail, the rejected
// version is never sent again, the rejection is reported per proxy and type, and the next
// snapshot change converges.
import { describe, expect, it } from 'vitest';
import type { XdsServer } from '../../src/xds/server.js';
import { cla, harness, nextAndAck, nextDeltaAndAck, staticCluster, TYPE, versionFor } from './fixtures.js';

const h = harness();

async function counter(server: XdsServer, which: 'acks' | 'nacks', type: string, variant: string): Promise<number> {
  const m = await server.metrics[which].get();
  return m.values.find((v) => v.labels['type'] === type && v.labels['variant'] === variant)?.value ?? 0;
}

const ENVOY_MESSAGE = "Error adding/updating cluster(s) bad: LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint";

describe('SotW ACK/NACK', () => {
  it('a NACK (error_detail) is recorded, the NACKed version is never resent, and the next change converges', async () => {
    const srv = await h.start();
    const v1 = srv.set('node-1', [staticCluster('a')]);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    const r1 = await nextAndAck(s);
    expect(r1.version_info).toBe(v1.typeVersion(TYPE.CLUSTER));
    // Wait for the ACK to be processed before reading counters.
    await new Promise((r) => setTimeout(r, 100));
    const acksBefore = await counter(srv.server, 'acks', 'CDS', 'sotw');
    expect(acksBefore).toBe(1);

    const v2 = srv.set('node-1', [staticCluster('a'), staticCluster('bad')]);
    const r2 = await s.next();
    expect(r2.version_info).toBe(v2.typeVersion(TYPE.CLUSTER));
    expect(r2.names).toEqual(['a', 'bad']);
    // Envoy's NACK: the previous good version, the nonce of the rejected response, and error_detail.
    s.nack(r2, ENVOY_MESSAGE);
    await s.expectNoResponse(500);

    // Further requests without an ACK: the same subscription again, as legacy and as "*",
    // with the old version and with the NACKed nonce or no nonce. Nothing is resent.
    s.send({ type_url: TYPE.CLUSTER, version_info: r1.version_info, response_nonce: r2.nonce, resource_names: [] });
    s.send({ type_url: TYPE.CLUSTER, version_info: r1.version_info, response_nonce: '', resource_names: [] });
    s.send({ type_url: TYPE.CLUSTER, version_info: r1.version_info, response_nonce: r2.nonce, resource_names: ['*'] });
    await s.expectNoResponse(500);

    const nacks = srv.server.board.recentNacks();
    expect(nacks).toHaveLength(1);
    expect(nacks[0]).toMatchObject({ nodeId: 'node-1', cluster: 'c1', type: 'CDS', version: v2.typeVersion(TYPE.CLUSTER), resources: ['a', 'bad'], message: ENVOY_MESSAGE });
    const view = srv.server.board.view();
    expect(view).toHaveLength(1);
    expect(view[0]!.types['CDS']).toMatchObject({
      versionSent: v2.typeVersion(TYPE.CLUSTER),
      versionAcked: v1.typeVersion(TYPE.CLUSTER),
      lastNack: { version: v2.typeVersion(TYPE.CLUSTER), message: ENVOY_MESSAGE },
    });
    expect(await counter(srv.server, 'nacks', 'CDS', 'sotw')).toBe(1);
    expect(await counter(srv.server, 'acks', 'CDS', 'sotw')).toBe(acksBefore);

    // The model is fixed: the new version is pushed and ACKed.
    const v3 = srv.set('node-1', [staticCluster('a'), staticCluster('good')]);
    const r3 = await nextAndAck(s);
    expect(r3.version_info).toBe(v3.typeVersion(TYPE.CLUSTER));
    expect(r3.names).toEqual(['a', 'good']);
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.server.board.view()[0]!.types['CDS']).toMatchObject({ versionSent: v3.typeVersion(TYPE.CLUSTER), versionAcked: v3.typeVersion(TYPE.CLUSTER), pending: false });
    expect(await counter(srv.server, 'acks', 'CDS', 'sotw')).toBe(acksBefore + 1);
    await s.expectNoResponse();
  });

  it('a NACKed named subscription is not resent on a re-request with the same names, but is on a new name', async () => {
    const srv = await h.start();
    srv.set('node-1', [cla('X', 1), cla('Y', 2)]);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.ENDPOINT, ['X']);
    const r1 = await nextAndAck(s);
    const v2 = srv.set('node-1', [cla('X', 3), cla('Y', 2)]);
    const r2 = await s.next();
    expect(r2.resources.map((r) => r.json)).toEqual([cla('X', 3)]);
    s.nack(r2, 'endpoint rejected');
    s.send({ type_url: TYPE.ENDPOINT, version_info: r1.version_info, response_nonce: r2.nonce, resource_names: ['X'] });
    await s.expectNoResponse(500);
    // A genuinely new subscription is answered with the current state (go-control-plane #399).
    s.subscribe(TYPE.ENDPOINT, ['X', 'Y'], r2.nonce);
    const r3 = await nextAndAck(s);
    expect(r3.names).toEqual(['X', 'Y']);
    expect(r3.version_info).toBe(versionFor(v2, TYPE.ENDPOINT, ['X', 'Y']));
  });

  it('a request carrying the current nonce but no error_detail is an ACK even if version_info is unexpected', async () => {
    // NACKs are detected by error_detail only (go-control-plane #962): a version mismatch is
    // not a NACK.
    const srv = await h.start();
    srv.set('node-1', [staticCluster('a')]);
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    const r1 = await s.next();
    s.send({ type_url: TYPE.CLUSTER, version_info: 'something-else', response_nonce: r1.nonce, resource_names: [] });
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.server.board.recentNacks()).toEqual([]);
    expect(await counter(srv.server, 'acks', 'CDS', 'sotw')).toBe(1);
    expect(srv.server.board.view()[0]!.types['CDS']!.versionAcked).toBe(r1.version_info);
  });
});

describe('Delta ACK/NACK', () => {
  it('a NACKed resource version is not resent; the next change converges; recorded per proxy and type', async () => {
    const srv = await h.start();
    srv.set('node-1', [staticCluster('a'), staticCluster('b')]);
    const d = h.client(srv.address).delta();
    d.subscribe(TYPE.CLUSTER);
    const r1 = await nextDeltaAndAck(d);
    expect(r1.names).toEqual(['a', 'b']);

    const v2 = srv.set('node-1', [staticCluster('a'), staticCluster('b', 9999)]);
    const r2 = await d.next();
    expect(r2.names).toEqual(['b']);
    expect(r2.system_version_info).toBe(v2.typeVersion(TYPE.CLUSTER));
    d.nack(r2, 'cluster b rejected');
    await d.expectNoResponse(500);
    // Re-subscribing to the wildcard, or sending an empty request, does not bring it back.
    d.subscribe(TYPE.CLUSTER, ['*']);
    d.send({ type_url: TYPE.CLUSTER });
    await d.expectNoResponse(500);

    expect(srv.server.board.recentNacks()).toMatchObject([{ nodeId: 'node-1', type: 'CDS', resources: ['b'], message: 'cluster b rejected' }]);
    expect(srv.server.board.view()[0]!.types['CDS']!.lastNack).toMatchObject({ message: 'cluster b rejected' });
    expect(await counter(srv.server, 'nacks', 'CDS', 'delta')).toBe(1);
    expect(await counter(srv.server, 'acks', 'CDS', 'delta')).toBe(1);

    srv.set('node-1', [staticCluster('a'), staticCluster('b', 7777)]);
    const r3 = await nextDeltaAndAck(d);
    expect(r3.names).toEqual(['b']);
    expect(r3.resources[0]!.resource.json).toEqual(staticCluster('b', 7777));
    await d.expectNoResponse();
    expect(await counter(srv.server, 'acks', 'CDS', 'delta')).toBe(2);
  });
});
