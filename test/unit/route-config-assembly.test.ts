// Route configurations assembled from per-route bytes (translate/route-config.ts), after each of
// a seeded run of edits to a big configuration (which reuses its last assembly), must be exactly
// what encoding translateRouteConfig gives: bytes, version and the clusters named.
import { describe, expect, it } from 'vitest';
import { gatewayMesh } from '../../bench/models.js';
import { buildSnapshots, MeshBuilder } from '../../src/app/model-source.js';
import { noteReplaced, replacedSince } from '../../src/ir/list-edits.js';
import type { AuthzIR, HttpListenerIR, HttpRouteIR, VirtualHostIR } from '../../src/ir/types.js';
import { ModelLoader } from '../../src/model/load.js';
import type { Model } from '../../src/model/schema.js';
import { ResourceEncoder } from '../../src/translate/index.js';
import { translateRouteConfig } from '../../src/translate/route.js';
import { identitySecret, trustBundleSecret } from '../../src/translate/secret.js';
import { type Resource, resourceFromJson } from '../../src/xds/resource.js';
import { TYPE } from '../../src/xds/type-urls.js';
import { rng } from '../helpers/rng.js';

function route(n: number, clusters: string[]): HttpRouteIR {
  return {
    origin: `gateways.edge.routes[${n}]`,
    match: { path: { kind: 'prefix', value: `/r${n}/` }, headers: n % 5 ? [] : [{ name: 'x-v', match: { kind: 'exact', value: `v${n}` } }], query: [], methods: null },
    backends: clusters.length === 1 ? [{ upstream: clusters[0]!, weight: 1 }] : clusters.map((c, i) => ({ upstream: c, weight: 10 + i })),
    rewritePathPrefix: null,
    rewriteHost: null,
    timeoutMs: n % 3 ? null : 1500,
  };
}

function expectEncoded(e: ResourceEncoder, l: HttpListenerIR, what: string): void {
  const want = resourceFromJson(TYPE.ROUTE, translateRouteConfig(l));
  const got = e.routeConfig(l);
  expect(got.body.equals(want.body), what).toBe(true);
  expect(got.version, what).toBe(want.version);
  expect(got.refs, what).toEqual(want.refs);
}

describe('route configuration assembly, edit after edit', () => {
  const cases: Array<[string, number, AuthzIR | null]> = [
    ['one virtual host, no authz', 1, null],
    ['three virtual hosts with authz extras', 3, { rules: [{ name: 'allow-000', principals: ['spiffe://x/service/a'], pathPrefix: '/p', methods: ['GET'] }] }],
  ];
  it.each(cases)('%s: equals the whole encoding after every edit (seeded)', (_name, hostCount, authz) => {
    const next = rng(7 + hostCount);
    const pick = (n: number): number => Math.floor(next() * n);
    const cluster = (): string => `svc-${pick(150)}${next() < 0.1 ? '|v=ü' : ''}`;
    let hosts: VirtualHostIR[] = Array.from({ length: hostCount }, (_, v) => ({
      name: v ? `host-${v}` : 'edge',
      domains: v ? [`h${v}.example.com`, `*.h${v}.example`] : ['*'],
      routes: Array.from({ length: 120 }, (_, i) => route(i, [cluster()])),
    }));
    const listener = (): HttpListenerIR => ({ kind: 'http', name: 'public', direction: authz ? 'inbound' : 'gateway', bind: { host: '0.0.0.0', port: 8080 }, tls: authz ? { mode: 'strict', trustDomain: 'x' } : null, authz, routeConfigName: 'public', virtualHosts: hosts });
    const e = new ResourceEncoder();
    expectEncoded(e, listener(), 'first');
    let n = 1000;
    for (let step = 0; step < 150; step++) {
      const v = pick(hostCount);
      const routes = [...hosts[v]!.routes];
      const i = pick(routes.length);
      const kind = pick(8);
      let what: string;
      if (kind === 0) {
        what = 'same backends, new path';
        routes[i] = { ...routes[i]!, match: { ...routes[i]!.match, path: { kind: 'prefix', value: `/edited-${step}/` } } };
      } else if (kind === 1) {
        what = 'a new cluster';
        routes[i] = route(n++, [`new-${step}`]);
      } else if (kind === 2) {
        what = 'the cluster of another route';
        routes[i] = route(n++, routes[pick(routes.length)]!.backends.map((b) => b.upstream));
      } else if (kind === 3) {
        what = 'two routes swapped';
        const j = pick(routes.length);
        [routes[i], routes[j]] = [routes[j]!, routes[i]!];
      } else if (kind === 4) {
        what = 'the same route object at two places';
        routes[i] = routes[pick(routes.length)]!;
      } else if (kind === 5) {
        what = 'weighted backends, one of them new';
        routes[i] = route(n++, [cluster(), `w-${step}`, cluster()]);
      } else if (kind === 6) {
        what = 'a route added';
        routes.splice(i, 0, route(n++, [cluster()]));
      } else {
        what = 'a route removed';
        routes.splice(i, 1);
      }
      hosts = hosts.map((h, k) => (k === v ? { ...h, routes } : h));
      expectEncoded(e, listener(), `step ${step}: ${what}`);
    }
  });

  it('every route changed at once, and back to a previous configuration', () => {
    const hosts = (c: string): VirtualHostIR[] => [{ name: 'edge', domains: ['*'], routes: Array.from({ length: 100 }, (_, i) => route(i, [`${c}-${i % 7}`])) }];
    const l = (vh: VirtualHostIR[]): HttpListenerIR => ({ kind: 'http', name: 'public', direction: 'gateway', bind: { host: '0.0.0.0', port: 80 }, tls: null, authz: null, routeConfigName: 'public', virtualHosts: vh });
    const e = new ResourceEncoder();
    const a = hosts('a');
    for (const vh of [a, hosts('b'), hosts('a'), a]) expectEncoded(e, l(vh), vh[0]!.routes[0]!.backends[0]!.upstream);
  });
});

// The same through the whole reload path, as meshgate runs it: one loader, one MeshBuilder, a
// gateway big enough that its route configuration keeps its last assembly. The model's route
// list records where it differs from the last one (model-diff.ts), the IR's routes list too
// (build.ts patchRoutes), and the assembly looks only at those places (list-edits.ts): after
// each edit the gateway's resources must be exactly those of a build from scratch.
describe('route configuration assembly through reloads (the lists\' records of what changed)', () => {
  it.each([1, 2, 3])('seed %i: 120 edits of a 100-route gateway equal a fresh build', (seed) => {
    const next = rng(seed * 131);
    const pick = (n: number): number => Math.floor(next() * n);
    const doc = gatewayMesh({ name: 'splice', services: 100, instancesPerService: 1, subsets: 1, mtls: 'strict' });
    const routes = doc.gateways.get('edge')!.routes;
    const loader = new ModelLoader();
    const live = new MeshBuilder();
    const fixed = [
      resourceFromJson(TYPE.SECRET, identitySecret('-----BEGIN CERTIFICATE-----\n(placeholder)\n-----END CERTIFICATE-----\n', '-----BEGIN PRIVATE KEY-----\n(placeholder)\n-----END PRIVATE KEY-----\n')),
      resourceFromJson(TYPE.SECRET, trustBundleSecret('-----BEGIN CERTIFICATE-----\n(placeholder trust bundle)\n-----END CERTIFICATE-----\n')),
    ];
    const secrets = (): Resource[] => fixed;
    const load = (): Model => {
      const r = loader.load('mesh.yaml', doc.text());
      if (!r.model) throw new Error(r.diagnostics[0]?.message);
      return r.model;
    };
    buildSnapshots(load(), live, 'mesh.yaml', secrets, []);
    const kinds = new Set<string>();
    for (let step = 0; step < 120; step++) {
      const i = pick(routes.length);
      const kind = pick(6);
      let what: string;
      if (kind === 0) {
        what = 'a path';
        routes[i]!.match = { pathPrefix: `/edited-${step}/` };
      } else if (kind === 1) {
        what = 'a backend (a cluster no other route names, or one another does)';
        routes[i]!.backend = `s${pick(100)}`;
      } else if (kind === 2) {
        what = 'two routes swapped';
        const j = pick(routes.length);
        [routes[i], routes[j]] = [routes[j]!, routes[i]!];
      } else if (kind === 3) {
        what = 'three paths at once, far apart';
        for (const k of [i, (i + 37) % routes.length, (i + 71) % routes.length]) routes[k]!.match = { pathPrefix: `/far-${step}-${k}/` };
      } else if (kind === 4) {
        what = 'a long path (a longer field)';
        routes[i]!.match = { pathPrefix: `/${'long/'.repeat(1 + pick(40))}${step}/` };
      } else {
        what = 'a route added or removed';
        if (routes.length > 90 && next() < 0.5) routes.splice(i, 1);
        else routes.splice(i, 0, { match: { pathPrefix: `/added-${step}/` }, backend: `s${pick(100)}` });
      }
      kinds.add(what);
      doc.touchGateways();
      const model = load();
      const inc = buildSnapshots(model, live, 'mesh.yaml', secrets, []);
      const fresh = buildSnapshots(structuredClone(model), new MeshBuilder(), 'mesh.yaml', secrets, []);
      expect(inc.errors).toEqual([]);
      const g = 'gateway/edge';
      const [a, b] = [inc.built.snapshots.get(g)!, fresh.built.snapshots.get(g)!];
      const rds = (s: typeof a): Resource => [...s.resources(TYPE.ROUTE).values()][0]!;
      expect(rds(a).body.equals(rds(b).body), `step ${step}: ${what}`).toBe(true);
      expect(rds(a).refs, `step ${step}: ${what}`).toEqual(rds(b).refs);
      expect(a.version, `step ${step}: ${what}`).toBe(b.version);
    }
    expect(kinds.size).toBe(6);
  });

  it('a list recorded against another base is compared place by place', () => {
    const base = Array.from({ length: 100 }, (_, i) => route(i, [`c${i % 9}`]));
    const other = base.slice();
    const l = (routes: HttpRouteIR[]): HttpListenerIR => ({ kind: 'http', name: 'public', direction: 'gateway', bind: { host: '0.0.0.0', port: 80 }, tls: null, authz: null, routeConfigName: 'public', virtualHosts: [{ name: 'edge', domains: ['*'], routes }] });
    const e = new ResourceEncoder();
    expectEncoded(e, l(base), 'first');
    // Recorded against `other` (not what the assembly holds): places 3 and 50 changed, not only 3.
    const edited = base.slice();
    edited[3] = route(1003, ['new-a']);
    edited[50] = route(1050, ['c1']);
    noteReplaced(edited, other, [3]);
    expectEncoded(e, l(edited), 'recorded against another list');
    // Recorded against the very list assembled last: taken as it is.
    const again = edited.slice();
    again[70] = route(1070, ['new-b']);
    noteReplaced(again, edited, [70]);
    expect(replacedSince(edited, again)).toEqual([70]);
    expect(replacedSince(other, again)).toBeUndefined();
    expectEncoded(e, l(again), 'recorded against the last list');
  });
});
