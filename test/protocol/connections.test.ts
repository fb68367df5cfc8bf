// Connection-level behaviour: keepalive on a half-open connection (RELIABILITY 24) and a
// connection storm (RELIABILITY 27, scaled down).
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { eventually, startTcpProxy, type DeltaStream, type SotwStream } from '../helpers/xds-client.js';
import { cla, edsCluster, harness, listener, nextAndAck, nextDeltaAndAck, route, TYPE, versionFor, type Json } from './fixtures.js';

const h = harness();

const WORLD: Json[] = [edsCluster('X'), cla('X', 9000), listener('l1', 'r1'), route('r1', 'X')];

describe('Keepalive (RELIABILITY 24)', () => {
  it('a connection that stops answering pings is cut and its stream state freed; others stay; reconnecting converges', async () => {
    // A half-open connection is simulated with a TCP proxy that we freeze in both directions:
    // the client's process and socket are alive but nothing it would send (PING ACKs
    // included) reaches the server, as when a NAT or a network path silently drops the flow.
    const srv = await h.start({ keepaliveTimeMs: 200, keepaliveTimeoutMs: 200 });
    srv.set('default', WORLD);
    const proxy = await startTcpProxy(srv.port);
    try {
      const cutClient = h.client(proxy.address, { node: { id: 'behind-proxy' } });
      const cut = cutClient.sotw();
      const alive = h.client(srv.address, { node: { id: 'direct' } }).sotw();
      for (const s of [cut, alive]) {
        s.subscribe(TYPE.CLUSTER, []);
        await nextAndAck(s);
      }
      await eventually(() => srv.server.board.streamCount === 2, 10_000, 'both streams');
      // Several keepalive rounds pass while both peers answer: nobody is cut.
      await new Promise((r) => setTimeout(r, 1000));
      expect(srv.server.board.view().map((v) => v.nodeId)).toEqual(['behind-proxy', 'direct']);

      proxy.freeze();
      await eventually(() => srv.server.board.streamCount === 1, 15_000, 'the silent connection to be dropped');
      expect(srv.server.board.view().map((v) => v.nodeId)).toEqual(['direct']);

      // The live stream still receives pushes.
      const snap = srv.set('default', [...WORLD, edsCluster('Y'), cla('Y', 9001)]);
      const push = await nextAndAck(alive);
      expect(push.names).toEqual(['X', 'Y']);
      expect(alive.ended).toBeNull();

      // The network comes back: the client learns its stream is gone and a new one converges.
      proxy.thaw();
      const st = await cut.status(20_000);
      expect(st.code).toBe(grpc.status.UNAVAILABLE);
      const again = cutClient.sotw();
      again.subscribe(TYPE.CLUSTER, []);
      const full = await nextAndAck(again, 20_000);
      expect(full.version_info).toBe(snap.typeVersion(TYPE.CLUSTER));
      expect(full.names).toEqual(['X', 'Y']);
    } finally {
      await proxy.close();
    }
  });
});

describe('Connection storm (RELIABILITY 27, scaled down)', () => {
  it('200 streams on 20 connections are all fully configured; the stream count returns to 0 after they close', async () => {
    const srv = await h.start();
    const snap = srv.set('default', WORLD);
    const expected = {
      [TYPE.CLUSTER]: snap.typeVersion(TYPE.CLUSTER),
      [TYPE.ENDPOINT]: versionFor(snap, TYPE.ENDPOINT, ['X']),
      [TYPE.LISTENER]: snap.typeVersion(TYPE.LISTENER),
      [TYPE.ROUTE]: versionFor(snap, TYPE.ROUTE, ['r1']),
    };

    async function sotwProxy(s: SotwStream): Promise<Record<string, string>> {
      const got: Record<string, string> = {};
      s.subscribe(TYPE.CLUSTER, []);
      got[TYPE.CLUSTER] = (await nextAndAck(s, 30_000)).version_info;
      s.subscribe(TYPE.ENDPOINT, ['X']);
      got[TYPE.ENDPOINT] = (await nextAndAck(s, 30_000)).version_info;
      s.subscribe(TYPE.LISTENER, []);
      got[TYPE.LISTENER] = (await nextAndAck(s, 30_000)).version_info;
      s.subscribe(TYPE.ROUTE, ['r1']);
      got[TYPE.ROUTE] = (await nextAndAck(s, 30_000)).version_info;
      return got;
    }
    async function deltaProxy(d: DeltaStream): Promise<Record<string, string>> {
      const names: string[] = [];
      d.subscribe(TYPE.CLUSTER);
      names.push(...(await nextDeltaAndAck(d, 30_000)).names);
      d.subscribe(TYPE.ENDPOINT, ['X']);
      names.push(...(await nextDeltaAndAck(d, 30_000)).names);
      d.subscribe(TYPE.LISTENER);
      names.push(...(await nextDeltaAndAck(d, 30_000)).names);
      d.subscribe(TYPE.ROUTE, ['r1']);
      names.push(...(await nextDeltaAndAck(d, 30_000)).names);
      return { names: names.join(',') };
    }

    const streams: (SotwStream | DeltaStream)[] = [];
    const results: Promise<Record<string, string>>[] = [];
    for (let c = 0; c < 20; c++) {
      const client = h.client(srv.address);
      for (let i = 0; i < 10; i++) {
        const node = { id: `proxy-${c}-${i}`, cluster: 'storm' };
        if (i % 2 === 0) {
          const s = client.sotw('ads', node);
          streams.push(s);
          results.push(sotwProxy(s));
        } else {
          const d = client.delta('ads', node);
          streams.push(d);
          results.push(deltaProxy(d));
        }
      }
    }
    const all = await Promise.all(results);
    expect(all).toHaveLength(200);
    for (let k = 0; k < all.length; k++) {
      if (k % 2 === 0) expect(all[k]).toEqual(expected);
      else expect(all[k]).toEqual({ names: 'X,X,l1,r1' });
    }
    await eventually(() => srv.server.board.view().filter((v) => Object.values(v.types).every((t) => t.versionAcked !== null && !t.pending)).length === 200, 30_000, 'every stream to have ACKed everything');
    expect(srv.server.board.streamCount).toBe(200);

    for (const s of streams) s.cancel();
    await eventually(() => srv.server.board.streamCount === 0, 30_000, 'every stream to be released');
    const gauge = await srv.server.metrics.streams.get();
    expect(gauge.values.reduce((n, v) => n + v.value, 0)).toBe(0);
  });
});
