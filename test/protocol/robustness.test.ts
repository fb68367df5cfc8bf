// Bad input on the xDS port (RELIABILITY 21) and explicit limits (RELIABILITY 30): a bad
// stream ends with a gRPC status of its own; other streams and the server carry on.
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { encodeSotwRequest, type XdsTestClient } from '../helpers/xds-client.js';
import { cla, harness, nextAndAck, staticCluster, TYPE, type Json } from './fixtures.js';

const h = harness();

const WORLD: Json[] = [staticCluster('a'), staticCluster('b'), cla('X', 1)];

/** A healthy stream on `c`: subscribes to CDS and checks the full answer. */
async function healthy(c: XdsTestClient): Promise<void> {
  const s = c.sotw();
  s.subscribe(TYPE.CLUSTER, []);
  const r = await s.next();
  expect(r.names).toEqual(['a', 'b']);
  s.cancel();
}

async function streamErrors(srv: { server: { metrics: { streamErrors: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> } } } }, reason: string): Promise<number> {
  const m = await srv.server.metrics.streamErrors.get();
  return m.values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
}

describe('Robustness', () => {
  it('garbage bytes on a stream end that stream with INVALID_ARGUMENT; other streams keep working', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const c = h.client(srv.address);
    const bystander = c.sotw();
    bystander.subscribe(TYPE.CLUSTER, []);
    await nextAndAck(bystander);

    // Neither decodes: a tag with wire type 7 (does not exist), and a lone tag byte whose
    // field body is missing.
    for (const [variant, garbage] of [
      ['sotw', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
      ['sotw', Buffer.from([0x0f])],
      ['delta', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
      ['delta', Buffer.from([0x0f])],
    ] as const) {
      const raw = c.raw('ads', variant);
      raw.write(garbage);
      const st = await raw.status();
      expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(st.details).toMatch(/malformed discovery request/);
    }
    // Garbage after a valid first request, on a per-type service.
    const raw = c.raw('cds', 'sotw');
    raw.write(encodeSotwRequest({ node: { id: 'node-1' }, type_url: TYPE.CLUSTER }));
    const first = await raw.next();
    expect(first.length).toBeGreaterThan(0);
    raw.write(Buffer.from([0x12, 0x05, 0x01])); // node: 5 bytes announced, 1 present
    expect((await raw.status()).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await streamErrors(srv, 'bad_request')).toBe(5);

    // The bystander still gets pushes; new streams still work.
    srv.set('node-1', [...WORLD, staticCluster('c')]);
    const push = await bystander.next();
    expect(push.names).toEqual(['a', 'b', 'c']);
    expect(bystander.ended).toBeNull();
    const s = c.sotw();
    s.subscribe(TYPE.CLUSTER, []);
    expect((await s.next()).names).toEqual(['a', 'b', 'c']);
  });

  it('garbage on the TCP port (not HTTP/2) does not disturb the server', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    // The server answers with a GOAWAY and closes the connection.
    const closedBy = await new Promise<string>((resolve) => {
      const sock = net.connect(srv.port, '127.0.0.1', () => {
        sock.write(Buffer.alloc(64 * 1024, 0xab));
      });
      sock.on('data', () => {});
      sock.on('error', () => resolve('error'));
      sock.on('close', () => resolve('server'));
      setTimeout(() => {
        resolve('timeout');
        sock.destroy();
      }, 10_000).unref();
    });
    expect(closedBy).toBe('server');
    await healthy(h.client(srv.address));
  });

  it('an ADS request without type_url ends the stream with INVALID_ARGUMENT', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const c = h.client(srv.address);
    const s = c.sotw();
    s.send({ resource_names: [] });
    const st = await s.status();
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toMatch(/type_url/);
    const d = c.delta();
    d.send({ resource_names_subscribe: ['a'] });
    expect((await d.status()).code).toBe(grpc.status.INVALID_ARGUMENT);
    await healthy(c);
  });

  it('a per-type service given another type_url ends the stream with INVALID_ARGUMENT', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const c = h.client(srv.address);
    const s = c.sotw('cds');
    s.send({ type_url: TYPE.LISTENER, resource_names: [] });
    const st = await s.status();
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toContain(TYPE.LISTENER);
    const d = c.delta('eds');
    d.send({ type_url: TYPE.CLUSTER });
    expect((await d.status()).code).toBe(grpc.status.INVALID_ARGUMENT);
    await healthy(c);
  });

  it('an unknown type on ADS is ignored and the stream keeps working', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const s = h.client(srv.address).sotw();
    s.send({ type_url: 'type.googleapis.com/envoy.service.runtime.v3.Runtime', resource_names: [] });
    await s.expectNoResponse();
    s.subscribe(TYPE.CLUSTER, []);
    expect((await s.next()).names).toEqual(['a', 'b']);
  });

  it('a response larger than limits.maxSendBytes ends the stream with RESOURCE_EXHAUSTED; others are served', async () => {
    const srv = await h.start({ limits: { maxSendBytes: 4096 } });
    const many = Array.from({ length: 60 }, (_, i) => staticCluster(`cluster-${String(i).padStart(3, '0')}`, 1000 + i));
    srv.set('big', many);
    srv.set('small', WORLD);
    const big = h.client(srv.address, { node: { id: 'big' } }).sotw();
    big.subscribe(TYPE.CLUSTER, []);
    const st = await big.status();
    expect(st.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(st.details).toMatch(/CDS response of \d+ bytes exceeds the server's limit of 4096 bytes/);
    expect(big.received).toEqual([]);
    expect(await streamErrors(srv, 'too_large')).toBe(1);
    // A small subset of the same group is fine, and other groups are unaffected.
    const named = h.client(srv.address, { node: { id: 'big' } }).sotw();
    named.subscribe(TYPE.CLUSTER, ['cluster-001']);
    expect((await named.next()).names).toEqual(['cluster-001']);
    const small = h.client(srv.address, { node: { id: 'small' } }).sotw();
    small.subscribe(TYPE.CLUSTER, []);
    expect((await small.next()).names).toEqual(['a', 'b']);
    expect(srv.server.board.streamCount).toBe(2);
  });

  it('a request with more names than limits.maxNamesPerType is refused (SotW and Delta)', async () => {
    const srv = await h.start({ limits: { maxNamesPerType: 10 } });
    srv.set('node-1', WORLD);
    const c = h.client(srv.address);
    const names = Array.from({ length: 11 }, (_, i) => `n${i}`);
    const s = c.sotw();
    s.subscribe(TYPE.ENDPOINT, names);
    const st = await s.status();
    expect(st.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(st.details).toMatch(/too many resource names \(11 > 10\)/);

    // Exactly at the limit is fine.
    const ok = c.sotw();
    ok.subscribe(TYPE.ENDPOINT, names.slice(0, 10));
    expect((await ok.next()).type_url).toBe(TYPE.ENDPOINT);

    // Delta: the limit applies to the accumulated subscription, and to initial_resource_versions.
    const d = c.delta();
    d.subscribe(TYPE.ENDPOINT, names.slice(0, 6));
    await d.next();
    d.subscribe(TYPE.ENDPOINT, names.slice(6, 11));
    expect((await d.status()).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const d2 = c.delta();
    d2.send({ type_url: TYPE.CLUSTER, initial_resource_versions: Object.fromEntries(names.map((n) => [n, 'v'])) });
    expect((await d2.status()).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await streamErrors(srv, 'too_many_names')).toBe(3);
    await healthy(c);
  });

  it('a request larger than maxReceiveBytes is refused by gRPC without harming the server', async () => {
    const srv = await h.start({ maxReceiveBytes: 1024 });
    srv.set('node-1', WORLD);
    const c = h.client(srv.address);
    const s = c.sotw();
    s.subscribe(TYPE.ENDPOINT, Array.from({ length: 200 }, (_, i) => `some-long-resource-name-${i}`));
    expect((await s.status()).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await healthy(c);
  });
});
