// SotW partial answers (EDS: only what the proxy does not hold) taken from the shared difference
// of two maps, when the proxy holds exactly one, must write exactly what comparing name by name
// writes: random sequences of snapshots, subscriptions, ACKs, NACKs and cluster changes (which
// force assignments to be sent again), on two streams fed the same requests.
import { describe, expect, it } from 'vitest';
import { SnapshotCache } from '../../src/xds/cache.js';
import type { Snapshot } from '../../src/xds/snapshot.js';
import type { DuplexCall, StreamDeps } from '../../src/xds/stream-base.js';
import { SotwStream } from '../../src/xds/stream-sotw.js';
import { TYPE, type TypeUrl } from '../../src/xds/type-urls.js';
import { snapshotOf } from '../helpers/in-process.js';
import { decodeSotwResponse } from '../helpers/xds-client.js';
import { cla, edsCluster, type Json } from '../protocol/fixtures.js';
import { rng } from '../helpers/rng.js';
import { depsFor, FakeCall } from '../helpers/stream-harness.js';

class ReferenceSotwStream extends SotwStream {
  constructor(call: DuplexCall, deps: StreamDeps) {
    super(call, deps, 'sotw', 'ads', null);
    this.compareByName = true;
  }
}

const NODE = { id: 'proxy', cluster: 'svc' };
const CLUSTERS = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'];

function randomSnapshot(r: () => number, prev: Snapshot | undefined): Snapshot {
  const out: Json[] = [];
  // Mostly small changes of the previous snapshot (the exact path's case), sometimes anything.
  const big = !prev || r() < 0.2;
  for (const c of CLUSTERS) {
    const had = prev?.get(TYPE.CLUSTER, c) !== undefined;
    const keep = big ? r() < 0.75 : r() < 0.92 ? had : !had;
    if (keep) out.push(edsCluster(c, r() < 0.85 ? '1s' : '2s'));
  }
  for (const c of CLUSTERS) {
    const had = prev?.get(TYPE.ENDPOINT, c) !== undefined;
    const keep = big ? r() < 0.8 : r() < 0.95 ? had : !had;
    if (keep) out.push(cla(c, r() < 0.7 ? 1 : r() < 0.5 ? 2 : 3));
  }
  return snapshotOf(out);
}

describe('SotW partial EDS: the shared difference writes what comparing name by name writes', () => {
  for (let seed = 1; seed <= 40; seed++) {
    it(`random sequence, seed ${seed}`, () => {
      const r = rng(seed);
      const cache = new SnapshotCache();
      cache.set(NODE.id, randomSnapshot(r, undefined));
      const a = new FakeCall();
      const b = new FakeCall();
      new SotwStream(a, depsFor(cache), 'sotw', 'ads', null);
      new ReferenceSotwStream(b, depsFor(cache));
      let sentNode = false;
      const send = (req: Record<string, unknown>): void => {
        const full = sentNode ? req : { ...req, node: NODE };
        sentNode = true;
        a.emit('data', structuredClone(full));
        b.emit('data', structuredClone(full));
      };
      const latest = (t: TypeUrl): ReturnType<typeof decodeSotwResponse> | undefined => {
        for (let i = a.written.length - 1; i >= 0; i--) {
          const d = decodeSotwResponse(a.written[i]!);
          if (d.type_url === t) return d;
        }
        return undefined;
      };
      const names: Record<string, string[]> = { [TYPE.CLUSTER]: [], [TYPE.ENDPOINT]: CLUSTERS.filter(() => r() < 0.8) };
      const requested = new Set<TypeUrl>();
      const log: string[] = [];
      let partial = 0;
      for (let step = 0; step < 300; step++) {
        const x = r();
        const t = r() < 0.3 ? TYPE.CLUSTER : TYPE.ENDPOINT;
        if (x < 0.25) {
          log.push('snapshot');
          cache.set(NODE.id, randomSnapshot(r, cache.get(NODE.id)));
        } else if (!requested.has(t) || x < 0.33) {
          requested.add(t);
          // Drop a name or take one back (often while a response is in flight), or ask anew.
          if (t === TYPE.ENDPOINT && requested.size > 0) {
            const y = r();
            const eds = names[t]!;
            if (y < 0.35 && eds.length > 0) names[t] = eds.filter((_, i) => i !== Math.floor(r() * eds.length));
            else if (y < 0.7) names[t] = [...new Set([...eds, CLUSTERS[Math.floor(r() * CLUSTERS.length)]!])].sort();
            else names[t] = CLUSTERS.filter(() => r() < 0.8);
          }
          const req: Record<string, unknown> = { type_url: t, resource_names: names[t] };
          const inflight = latest(t);
          if (inflight && r() < 0.5) req['response_nonce'] = r() < 0.8 ? inflight.nonce : 'stale';
          log.push(`request ${JSON.stringify(req)}`);
          send(req);
        } else {
          const inflight = latest(t);
          if (!inflight) continue;
          const req: Record<string, unknown> = { type_url: t, response_nonce: inflight.nonce, version_info: inflight.version_info, resource_names: names[t] };
          if (x > 0.93) req['error_detail'] = { code: 3, message: 'rejected' };
          log.push(`${x > 0.93 ? 'NACK' : 'ACK'} ${t.split('.').pop()} ${inflight.nonce}`);
          send(req);
        }
        const same = a.written.length === b.written.length && a.written.every((w, i) => w.equals(b.written[i]!));
        if (!same) {
          const brief = (buf: Buffer): unknown => {
            const d = decodeSotwResponse(buf);
            return { type: d.type_url.split('.').pop(), nonce: d.nonce, version: d.version_info, count: d.resources.length };
          };
          expect(a.written.map(brief), `seed ${seed}, step ${step}:\n${log.slice(-10).join('\n')}`).toEqual(b.written.map(brief));
          expect.fail(`seed ${seed}, step ${step}: responses differ in bytes`);
        }
        const last = a.written.at(-1);
        if (last && decodeSotwResponse(last).type_url === TYPE.ENDPOINT && decodeSotwResponse(last).resources.length < names[TYPE.ENDPOINT]!.length) partial++;
      }
      expect(a.written.length).toBeGreaterThan(10);
      expect(partial, 'partial answers were sent').toBeGreaterThan(0);
      a.emit('close');
      b.emit('close');
    });
  }
});

describe('SotW partial EDS: what the proxy dropped', () => {
  it('a name dropped while a partial answer is in flight is sent again when asked for again, though it did not change', () => {
    const cache = new SnapshotCache();
    const eds = (port1: number): Snapshot => snapshotOf(['c0', 'c1', 'c2', 'c3'].map((c) => cla(c, c === 'c1' ? port1 : 1)));
    cache.set(NODE.id, eds(1));
    const call = new FakeCall();
    new SotwStream(call, depsFor(cache), 'sotw', 'ads', null);
    const all = ['c0', 'c1', 'c2', 'c3'];
    const last = (): ReturnType<typeof decodeSotwResponse> => decodeSotwResponse(call.written.at(-1)!);
    call.emit('data', { node: NODE, type_url: TYPE.ENDPOINT, resource_names: all });
    expect(last().resources).toHaveLength(4);
    call.emit('data', { type_url: TYPE.ENDPOINT, resource_names: all, response_nonce: last().nonce, version_info: last().version_info });
    // c1 changes: a partial answer (c1 only) goes out; before its ACK the proxy drops c2.
    cache.set(NODE.id, eds(2));
    const partial = last();
    expect(partial.resources).toHaveLength(1);
    call.emit('data', { type_url: TYPE.ENDPOINT, resource_names: ['c0', 'c1', 'c3'] });
    call.emit('data', { type_url: TYPE.ENDPOINT, resource_names: ['c0', 'c1', 'c3'], response_nonce: partial.nonce, version_info: partial.version_info });
    const n = call.written.length;
    // Asked for again, c2 is sent: the proxy dropped it.
    call.emit('data', { type_url: TYPE.ENDPOINT, resource_names: all, version_info: partial.version_info, response_nonce: decodeSotwResponse(call.written.at(-1)!).nonce });
    expect(call.written.length).toBe(n + 1);
    expect(decodeSotwResponse(call.written.at(-1)!).names).toEqual(['c2']);
    call.emit('close');
  });
});
