// Route configurations assembled from per-route bytes (translate/route-config.ts), after each of
// a seeded run of edits to a big configuration (which reuses its last assembly), must be exactly
// what encoding translateRouteConfig gives: bytes, version and the clusters named.
import { describe, expect, it } from 'vitest';
import type { AuthzIR, HttpListenerIR, HttpRouteIR, VirtualHostIR } from '../../src/ir/types.js';
import { ResourceEncoder } from '../../src/translate/index.js';
import { translateRouteConfig } from '../../src/translate/route.js';
import { resourceFromJson } from '../../src/xds/resource.js';
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
