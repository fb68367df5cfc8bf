// Delta pushes look only at what changed: the SnapshotUpdate's changed names (intersected with
// the subscription), the names (re)subscribed since the last response, forced assignments and
// resources kept for make-before-break. Checked two ways: a push after a one-resource change
// in a type of 2000 touches a handful of names and never iterates the type; and, over random
// sequences of snapshots, subscriptions, ACKs and NACKs, the incremental stream writes exactly
// the bytes of a stream that compares every selected name on every response (the reference).
import { describe, expect, it } from 'vitest';
import { SnapshotCache, type SnapshotUpdate } from '../../src/xds/cache.js';
import { Snapshot } from '../../src/xds/snapshot.js';
import type { DuplexCall, StreamDeps } from '../../src/xds/stream-base.js';
import { DeltaStream } from '../../src/xds/stream-delta.js';
import type { Holdings } from '../../src/xds/delta-holdings.js';
import { TYPE, type TypeUrl } from '../../src/xds/type-urls.js';
import { snapshotOf } from '../helpers/in-process.js';
import { decodeDeltaResponse } from '../helpers/xds-client.js';
import { cla, edsCluster, listener, route, secret, staticCluster, type Json } from '../protocol/fixtures.js';
import { rng } from '../helpers/rng.js';
import { depsFor, FakeCall } from '../helpers/stream-harness.js';

/** The reference: every response compares every selected name with what the proxy holds. */
class ReferenceDeltaStream extends DeltaStream {
  constructor(call: DuplexCall, deps: StreamDeps) {
    // (the same subscription semantics; only the names each response compares differ)
    super(call, deps, 'delta', 'ads', null);
    this.compareEverything = true;
  }
}

const NODE = { id: 'proxy', cluster: 'svc' };

/** A ReadonlyMap wrapper counting lookups and iterations. */
function counting<K, V>(m: ReadonlyMap<K, V>, counts: { lookups: number; iterations: number }): ReadonlyMap<K, V> {
  return new Proxy(m as Map<K, V>, {
    get(target, prop) {
      if (prop === 'size') return target.size;
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (prop === 'get' || prop === 'has') counts.lookups++;
        else counts.iterations++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('Delta pushes cost the change, not the type', () => {
  it('a one-cluster change among 2000 looks up a few names and iterates nothing', () => {
    const N = 2000;
    const clusters = (timeout: (i: number) => string, n = N): Json[] => Array.from({ length: n }, (_, i) => staticCluster(`c${i}`, 8000 + (i % 100), timeout(i)));
    const cache = new SnapshotCache();
    cache.set(NODE.id, snapshotOf(clusters(() => '1s')));
    const call = new FakeCall();
    const stream = new DeltaStream(call, depsFor(cache), 'delta', 'ads', null);
    call.emit('data', { node: NODE, type_url: TYPE.CLUSTER });
    expect(call.written).toHaveLength(1);
    const r1 = decodeDeltaResponse(call.written[0]!);
    expect(r1.names).toHaveLength(N);
    call.emit('data', { type_url: TYPE.CLUSTER, response_nonce: r1.nonce });

    /** Deliver `next` to the stream as the cache would, counting what it does with the type. */
    const push = (next: Snapshot, changed: string[]): { lookups: number; iterations: number } => {
      const counts = { lookups: 0, iterations: 0 };
      const wrapped = Object.create(next) as Snapshot;
      const real = next.resources(TYPE.CLUSTER);
      wrapped.resources = (t: TypeUrl) => (t === TYPE.CLUSTER ? counting(real, counts) : next.resources(t));
      const update: SnapshotUpdate = { snapshot: wrapped, changed: new Map([[TYPE.CLUSTER, new Set(changed)]]), setAt: performance.now() };
      stream.onUpdate(update);
      return counts;
    };

    // c1234 changes and c2000 appears.
    const next = snapshotOf(clusters((i) => (i === 1234 ? '2s' : '1s'), N + 1));
    const counts = push(next, ['c1234', 'c2000']);
    expect(call.written).toHaveLength(2);
    const r2 = decodeDeltaResponse(call.written[1]!);
    expect(r2.names).toEqual(['c1234', 'c2000']);
    expect(r2.resources.map((r) => r.version)).toEqual([next.get(TYPE.CLUSTER, 'c1234')!.version, next.get(TYPE.CLUSTER, 'c2000')!.version]);
    expect(r2.removed_resources).toEqual([]);
    expect(r2.system_version_info).toBe(next.typeVersion(TYPE.CLUSTER));
    expect(counts.iterations).toBe(0);
    expect(counts.lookups).toBeLessThanOrEqual(10);
    call.emit('data', { type_url: TYPE.CLUSTER, response_nonce: r2.nonce });

    // c7 is deleted. (Deleting something the proxy holds also checks make-before-break
    // references, a pass over what the proxy holds; the type itself is still not walked.)
    const third = snapshotOf(clusters((i) => (i === 1234 ? '2s' : '1s'), N + 1).filter((c) => c['name'] !== 'c7'));
    const counts3 = push(third, ['c7']);
    const r3 = decodeDeltaResponse(call.written[2]!);
    expect(r3.names).toEqual([]);
    expect(r3.removed_resources).toEqual(['c7']);
    expect(counts3.iterations).toBe(0);
    call.emit('close');
  });

  it('streams holding a whole assignment type exactly: a change is one shared difference, with no per-name work per stream', () => {
    const N = 1000;
    const cl = (port: (i: number) => number): Json[] => Array.from({ length: N }, (_, i) => cla(`e${i}`, port(i)));
    const cache = new SnapshotCache();
    cache.set(NODE.id, snapshotOf(cl(() => 1)));
    const deps = depsFor(cache);
    const calls = Array.from({ length: 5 }, () => new FakeCall());
    const streams = calls.map((c) => new DeltaStream(c, deps, 'delta', 'ads', null));
    const names = Array.from({ length: N }, (_, i) => `e${i}`);
    for (const c of calls) {
      c.emit('data', { node: NODE, type_url: TYPE.ENDPOINT, resource_names_subscribe: names });
      const r = decodeDeltaResponse(c.written[0]!);
      expect(r.names).toHaveLength(N);
      c.emit('data', { type_url: TYPE.ENDPOINT, response_nonce: r.nonce });
    }
    // Ten assignments change; every stream is told about them and only them, and nothing of
    // the type is looked up or walked per stream (the difference of the two maps is shared).
    const next = snapshotOf(cl((i) => (i % 100 === 7 ? 2 : 1)));
    const counts = { lookups: 0, iterations: 0 };
    const wrapped = Object.create(next) as Snapshot;
    const real = next.resources(TYPE.ENDPOINT);
    const counted = counting(real, counts);
    wrapped.resources = (t: TypeUrl) => (t === TYPE.ENDPOINT ? counted : next.resources(t));
    // The first stream to see the new map works the difference out (for all of them); the
    // others in the same state do no per-name work at all.
    const update: SnapshotUpdate = { snapshot: wrapped, changed: new Map([[TYPE.ENDPOINT, new Set(names.filter((_, i) => i % 100 === 7))]]), setAt: performance.now() };
    streams[0]!.onUpdate(update);
    counts.lookups = counts.iterations = 0;
    for (const st of streams.slice(1)) st.onUpdate(update);
    const bodies = calls.map((c) => c.written[1]!);
    for (const b of bodies) {
      const r = decodeDeltaResponse(b);
      expect(r.names).toEqual(['e107', 'e207', 'e307', 'e407', 'e507', 'e607', 'e7', 'e707', 'e807', 'e907']);
      expect(r.removed_resources).toEqual([]);
    }
    // Per stream: whether the subscription still covers the type is told by the shared
    // difference too (a lookup per changed name), not by walking the type.
    expect(counts.iterations).toBe(0);
    expect(counts.lookups).toBeLessThanOrEqual(4 * 12);
    for (const c of calls) c.emit('close');
  });

  it('a change outside a named subscription wakes nothing; one inside sends only that name', () => {
    const cache = new SnapshotCache();
    const cl = (p: (i: number) => number): Json[] => Array.from({ length: 500 }, (_, i) => cla(`e${i}`, p(i)));
    cache.set(NODE.id, snapshotOf(cl(() => 1)));
    const call = new FakeCall();
    new DeltaStream(call, depsFor(cache), 'delta', 'ads', null);
    call.emit('data', { node: NODE, type_url: TYPE.ENDPOINT, resource_names_subscribe: ['e1', 'e2', 'e3'] });
    const r1 = decodeDeltaResponse(call.written[0]!);
    expect(r1.names).toEqual(['e1', 'e2', 'e3']);
    call.emit('data', { type_url: TYPE.ENDPOINT, response_nonce: r1.nonce });
    cache.set(NODE.id, snapshotOf(cl((i) => (i === 400 ? 2 : 1))));
    expect(call.written).toHaveLength(1);
    cache.set(NODE.id, snapshotOf(cl((i) => (i === 400 || i === 2 ? 2 : 1))));
    expect(call.written).toHaveLength(2);
    expect(decodeDeltaResponse(call.written[1]!).names).toEqual(['e2']);
    call.emit('close');
  });
});


const TYPES: TypeUrl[] = [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.LISTENER, TYPE.ROUTE, TYPE.SECRET];
const UNIVERSE: Record<TypeUrl, string[]> = {
  [TYPE.CLUSTER]: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'],
  [TYPE.ENDPOINT]: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'x'],
  [TYPE.LISTENER]: ['l0', 'l1', 'l2'],
  [TYPE.ROUTE]: ['r0', 'r1', 'r2', 'r3'],
  [TYPE.SECRET]: ['s0', 's1', 's2'],
};

function randomSnapshot(r: () => number): Snapshot {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Json[] = [];
  for (const c of UNIVERSE[TYPE.CLUSTER]) if (r() < 0.7) out.push(r() < 0.8 ? edsCluster(c, pick(['1s', '2s'])) : staticCluster(c, 80, pick(['1s', '3s'])));
  for (const e of UNIVERSE[TYPE.ENDPOINT]) if (r() < 0.75) out.push(cla(e, pick([1, 2])));
  for (const rt of UNIVERSE[TYPE.ROUTE]) if (r() < 0.75) out.push(route(rt, pick(UNIVERSE[TYPE.CLUSTER])));
  UNIVERSE[TYPE.LISTENER].forEach((l, i) => {
    if (r() < 0.75) out.push(listener(l, pick(UNIVERSE[TYPE.ROUTE]), 10000 + i, pick(['a', 'b'])));
  });
  for (const s of UNIVERSE[TYPE.SECRET]) if (r() < 0.7) out.push(secret(s, pick(['v1', 'v2'])));
  return snapshotOf(out);
}

function randomNames(r: () => number, t: TypeUrl): string[] {
  return UNIVERSE[t].filter(() => r() < 0.4);
}

describe('Delta: the incremental path writes what comparing everything writes', () => {
  for (let seed = 1; seed <= 60; seed++) {
    it(`random sequence, seed ${seed}`, () => {
      const r = rng(seed);
      const cache = new SnapshotCache();
      // The node is served by group "proxy" (its id) while that exists, else "svc" (its
      // cluster); in some runs "svc" may not receive secrets. Moving between them regroups.
      cache.set(NODE.cluster, randomSnapshot(r));
      if (r() < 0.8) cache.set(NODE.id, randomSnapshot(r));
      const policy: StreamDeps['secretPolicy'] = seed % 3 === 0 ? (_node, group) => ({ ok: group !== NODE.cluster, reason: 'test' }) : undefined;
      const a = new FakeCall();
      const b = new FakeCall();
      const sa = new DeltaStream(a, depsFor(cache, policy), 'delta', 'ads', null);
      const sb = new ReferenceDeltaStream(b, depsFor(cache, policy));
      /** Per-type state of a stream, for failure messages. */
      const dump = (st: DeltaStream): string => {
        const types = (st as unknown as { types: Map<string, Record<string, unknown>> }).types;
        const list = (v: unknown): string => [...((v as Iterable<unknown> | null) ?? [])].map((e) => (Array.isArray(e) ? `${String(e[0])}@${(typeof e[1] === 'string' ? e[1] : (e[1] as { version: string }).version).slice(0, 6)}` : String(e))).join(',');
        const holdsOf = (h: unknown): string => {
          const hh = h as Holdings;
          return hh
            .knownNames()
            .sort()
            .map((n) => `${n}@${(hh.version(n) ?? '').slice(0, 6)}${hh.hasHeld(n) ? '' : '(v)'}`)
            .join(',') + (hh.exactBase() ? ' [exact]' : '');
        };
        return [...types]
          .map(([t, x]) => `${t.split('.').pop()}: wildcard=${String(x['wildcard'])} names=${list(x['names'])} holds=${holdsOf(x['holds'])} shadow=${list(x['shadow'])} missing=${list(x['missing'])} force=${list(x['force'])} dirty=${x['dirty'] === 'all' ? 'all' : list(x['dirty'])}`)
          .join('\n');
      };
      const requested = new Set<TypeUrl>();
      let sentNode = false;
      const send = (req: Record<string, unknown>): void => {
        const full = sentNode ? req : { ...req, node: NODE };
        sentNode = true;
        a.emit('data', structuredClone(full));
        b.emit('data', structuredClone(full));
      };
      /** The latest response of type t on stream a. */
      const latest = (t: TypeUrl): ReturnType<typeof decodeDeltaResponse> | undefined => {
        for (let i = a.written.length - 1; i >= 0; i--) {
          const d = decodeDeltaResponse(a.written[i]!);
          if (d.type_url === t) return d;
        }
        return undefined;
      };
      const log: string[] = [];
      for (let step = 0; step < 120; step++) {
        const before = dump(sa);
        const t = TYPES[Math.floor(r() * TYPES.length)]!;
        const x = r();
        if (x < 0.2) {
          const group = cache.groupFor(sa) ?? NODE.cluster;
          log.push(`snapshot of ${group}`);
          cache.set(group, randomSnapshot(r));
        } else if (x < 0.23) {
          const next = new Map<string, Snapshot>([[NODE.cluster, r() < 0.5 ? cache.get(NODE.cluster)! : randomSnapshot(r)]]);
          if (!cache.get(NODE.id)) next.set(NODE.id, randomSnapshot(r));
          log.push(`regroup to ${next.has(NODE.id) ? NODE.id : NODE.cluster}`);
          cache.replaceAll(next);
        } else if (!requested.has(t) || x < 0.4) {
          const first = !requested.has(t);
          requested.add(t);
          const req: Record<string, unknown> = { type_url: t };
          const mode = r();
          if (first) {
            if (mode < 0.35) req['resource_names_subscribe'] = [];
            else if (mode < 0.5) req['resource_names_subscribe'] = ['*', ...randomNames(r, t)];
            else req['resource_names_subscribe'] = randomNames(r, t);
            if (r() < 0.4) {
              const snap = cache.get(cache.groupFor(sa) ?? NODE.cluster)!;
              const initial: Record<string, string> = {};
              for (const n of randomNames(r, t)) initial[n] = r() < 0.6 ? (snap.get(t, n)?.version ?? 'gone') : 'old';
              req['initial_resource_versions'] = initial;
            }
          } else {
            const sub = randomNames(r, t);
            const unsub = randomNames(r, t);
            if (mode < 0.15) sub.push('*');
            else if (mode < 0.3) unsub.push('*');
            req['resource_names_subscribe'] = sub;
            req['resource_names_unsubscribe'] = unsub;
            const inflight = latest(t);
            if (inflight && r() < 0.5) req['response_nonce'] = r() < 0.8 ? inflight.nonce : 'stale';
          }
          log.push(`request ${JSON.stringify(req)}`);
          send(req);
        } else {
          const inflight = latest(t);
          if (!inflight) continue;
          const req: Record<string, unknown> = { type_url: t, response_nonce: inflight.nonce };
          if (x > 0.9) req['error_detail'] = { code: 3, message: 'rejected' };
          log.push(`${x > 0.9 ? 'NACK' : 'ACK'} ${t.split('.').pop()} ${inflight.nonce}`);
          send(req);
        }
        const same = a.written.length === b.written.length && a.written.every((w, i) => w.equals(b.written[i]!));
        if (same) continue;
        const ctx = `seed ${seed}, step ${step}:\n${log.slice(-8).join('\n')}\nincremental before:\n${before}\nincremental after:\n${dump(sa)}\nreference after:\n${dump(sb)}`;
        expect(a.written.length, ctx).toBe(b.written.length);
        for (let i = 0; i < a.written.length; i++) {
          if (!a.written[i]!.equals(b.written[i]!)) {
            const brief = (buf: Buffer): unknown => {
              const d = decodeDeltaResponse(buf);
              return { type: d.type_url.split('.').pop(), nonce: d.nonce, version: d.system_version_info, sent: d.resources.map((x) => `${x.name}@${x.version.slice(0, 6)}`), removed: d.removed_resources };
            };
            expect(brief(a.written[i]!), ctx).toEqual(brief(b.written[i]!));
            expect(decodeDeltaResponse(a.written[i]!), ctx).toEqual(decodeDeltaResponse(b.written[i]!));
            expect.fail(`response ${i} differs in bytes only: ${ctx}`);
          }
        }
      }
      expect(a.written.length).toBeGreaterThan(10);
      a.emit('close');
      b.emit('close');
    });
  }
});
