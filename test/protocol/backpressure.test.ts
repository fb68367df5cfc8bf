// A proxy that stops reading (RELIABILITY 28, scaled down). The slow client talks to the server
// through a TCP proxy whose server→client direction is frozen: the server's HTTP/2 flow-control
// window runs out and its write of a large response stays pending, exactly as with a
// SIGSTOPped Envoy whose socket buffers are full. (Pausing the grpc-js call itself would not
// do: the client library keeps reading up to 16 messages into its own buffer regardless.)
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { eventually, startTcpProxy, type TcpProxy } from '../helpers/xds-client.js';
import { harness, nextAndAck, staticCluster, TYPE, type Json } from './fixtures.js';

const h = harness();

/** ~600 KB of clusters: far beyond the 64 KiB HTTP/2 window of a peer that does not read. */
const BIG: Json[] = Array.from({ length: 2000 }, (_, i) => staticCluster(`big-${String(i).padStart(4, '0')}-${'x'.repeat(200)}`, 1000 + i));

function version(n: number): Json[] {
  return [...BIG, staticCluster(`marker-v${n}`, 2000 + n)];
}

async function stalledMetric(srv: { server: { metrics: { streamErrors: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> } } } }): Promise<number> {
  const m = await srv.server.metrics.streamErrors.get();
  return m.values.find((v) => v.labels['reason'] === 'stalled')?.value ?? 0;
}

function proxyTo(port: number): Promise<TcpProxy> {
  return startTcpProxy(port);
}

describe('Backpressure', () => {
  it('a client that stops reading does not delay others, and on resuming gets only the latest version', async () => {
    const srv = await h.start({ limits: { stallTimeoutMs: 120_000 } });
    srv.set('node-1', version(1));
    const proxy = await proxyTo(srv.port);
    try {
      const slow = h.client(proxy.address).sotw();
      const fast = h.client(srv.address).sotw();
      for (const s of [slow, fast]) {
        s.subscribe(TYPE.CLUSTER, []);
        const r = await nextAndAck(s, 10_000);
        expect(r.names).toContain('marker-v1');
      }
      await new Promise((r) => setTimeout(r, 200)); // the slow client's ACK reaches the server
      proxy.freezeDownstream();

      // Nine changes. The fast client receives and ACKs every one while the slow one is stuck.
      let last = srv.set('node-1', version(2));
      for (let n = 2; n <= 10; n++) {
        if (n > 2) last = srv.set('node-1', version(n));
        const r = await nextAndAck(fast, 10_000);
        expect(r.names).toContain(`marker-v${n}`);
        expect(r.version_info).toBe(last.typeVersion(TYPE.CLUSTER));
      }
      // The server still holds v2 in flight for the slow stream and the latest for the fast one.
      const latestVersion = last.typeVersion(TYPE.CLUSTER);
      await eventually(() => srv.server.board.view().some((v) => v.types['CDS']!.versionAcked === latestVersion), 10_000, 'the fast ACK');
      const cds = srv.server.board.view().map((v) => v.types['CDS']!);
      expect(cds).toHaveLength(2);
      const v2 = slow.received.length === 1 ? fast.received[1]!.version_info : 'unexpected';
      expect(cds.map((t) => [t.versionSent, t.pending]).sort()).toEqual(
        [
          [v2, true],
          [last.typeVersion(TYPE.CLUSTER), false],
        ].sort(),
      );

      proxy.thaw();
      // The response that was in flight when it stopped (v2), then straight to the latest.
      const inflight = await slow.next(20_000);
      expect(inflight.names).toContain('marker-v2');
      slow.ack(inflight);
      const latest = await nextAndAck(slow, 20_000);
      expect(latest.names).toContain('marker-v10');
      expect(latest.version_info).toBe(last.typeVersion(TYPE.CLUSTER));
      await slow.expectNoResponse(500);
      expect(slow.received.map((r) => r.names.find((n) => n.startsWith('marker-')))).toEqual(['marker-v1', 'marker-v2', 'marker-v10']);
      expect(slow.ended).toBeNull();
      expect(await stalledMetric(srv)).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('a stream whose writes stay blocked for stallTimeoutMs is ended; other streams carry on', async () => {
    const srv = await h.start({ limits: { stallTimeoutMs: 1000 } });
    srv.set('node-1', version(1));
    const proxy = await proxyTo(srv.port);
    try {
      const slow = h.client(proxy.address).sotw();
      const fast = h.client(srv.address).sotw();
      for (const s of [slow, fast]) {
        s.subscribe(TYPE.CLUSTER, []);
        await nextAndAck(s, 10_000);
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(srv.server.board.streamCount).toBe(2);
      proxy.freezeDownstream();
      srv.set('node-1', version(2));
      expect((await nextAndAck(fast, 10_000)).names).toContain('marker-v2');

      // The server gives up on the stalled stream and frees its state.
      await eventually(() => srv.server.board.streamCount === 1, 15_000, 'the stalled stream to be ended');
      expect(await stalledMetric(srv)).toBe(1);
      // The fast client is still served.
      srv.set('node-1', version(3));
      expect((await nextAndAck(fast, 10_000)).names).toContain('marker-v3');

      // When the slow client reads again it finds its stream ended with UNAVAILABLE.
      proxy.thaw();
      const st = await slow.status(20_000);
      expect(st.code).toBe(grpc.status.UNAVAILABLE);
      expect(st.details).toMatch(/stopped reading for 1000 ms/);
    } finally {
      await proxy.close();
    }
  });
});
