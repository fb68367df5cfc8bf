// Resources filled in from templates with string holes (xds/holes.ts, translate/templates.ts)
// must be exactly what encoding their JSON gives: bytes, version (a content hash goldens pin)
// and references.
import { describe, expect, it } from 'vitest';
import type { HttpRouteIR, Protocol, StringMatchIR, UpstreamIR } from '../../src/ir/types.js';
import { translateCluster } from '../../src/translate/cluster.js';
import { translateRoute } from '../../src/translate/route.js';
import { edsClusterResource, RouteFields } from '../../src/translate/templates.js';
import { emptyRefs, encodeFromJson } from '../../src/xds/json.js';
import { messageType } from '../../src/xds/protos.js';
import { lengthDelimited } from '../../src/xds/wire.js';
import { rng } from '../helpers/rng.js';
import { hole, holeResource, holeTemplate } from '../../src/xds/holes.js';
import { type Resource, resourceFromJson } from '../../src/xds/resource.js';
import { TYPE } from '../../src/xds/type-urls.js';

const PROTOCOLS: Protocol[] = ['http', 'http2', 'grpc', 'tcp'];

/** Names short and long (lengths whose varints take one, two and three bytes), ASCII and not. */
const NAMES = ['a', 'users', 'users|version=v2', 'ünïcødé-svc', 'svc-😀-emoji', 'x'.repeat(127), 'y'.repeat(128), 'z'.repeat(300), `${'é'.repeat(70)}`, 'w'.repeat(20_000)];

function upstream(key: string, service: string, protocol: Protocol, identity: string | null): UpstreamIR {
  return {
    key,
    service,
    subset: null,
    protocol,
    endpoints: [{ instanceId: 'i-0', host: '10.0.0.1', port: 8080, isIp: true }],
    local: false,
    tls: identity === null ? null : { serverIdentity: identity },
  };
}

function expectSame(got: Resource, want: Resource, what: string): void {
  expect(got.name, what).toBe(want.name);
  expect(got.body.equals(want.body), what).toBe(true);
  expect(got.version, what).toBe(want.version);
  expect(got.refs, what).toEqual(want.refs);
}

describe('EDS clusters from templates', () => {
  it('equal resourceFromJson(translateCluster(u)) for every protocol, with and without TLS, any name length and unicode', () => {
    let n = 0;
    for (const protocol of PROTOCOLS) {
      for (const [i, key] of NAMES.entries()) {
        const service = NAMES[(i + 3) % NAMES.length]!;
        for (const identity of [null, `spiffe://bench.local/service/${service}`, `spiffe://td/${'long-'.repeat(40)}${key}`]) {
          const u = upstream(key, service, protocol, identity);
          expectSame(edsClusterResource(u), resourceFromJson(TYPE.CLUSTER, translateCluster(u)), `${protocol} ${key.slice(0, 20)} ${identity?.slice(0, 30)}`);
          n++;
        }
      }
    }
    expect(n).toBe(PROTOCOLS.length * NAMES.length * 3);
  });

  it('an EDS cluster refers to its assignment by its own name and to both secrets with TLS', () => {
    const r = edsClusterResource(upstream('s1|v=2', 's1', 'http', 'spiffe://x/service/s1'));
    expect(r.refs).toEqual({ clusters: [], routes: [], secrets: ['identity', 'trust-bundle'], endpoints: ['s1|v=2'] });
    expect(edsClusterResource(upstream('s1', 's1', 'grpc', null)).refs).toEqual({ clusters: [], routes: [], secrets: [], endpoints: ['s1'] });
  });

  it('values the generic encoding treats differently (empty, lone surrogates) are encoded from JSON, with the same result', () => {
    for (const u of [upstream('svc', '', 'http', 'spiffe://x/service/svc'), upstream('bad\uD800name', 's', 'http2', 'spiffe://x/s'), upstream('svc', 's\uDC00', 'grpc', 'spiffe://x/s')]) {
      expectSame(edsClusterResource(u), resourceFromJson(TYPE.CLUSTER, translateCluster(u)), u.key);
    }
  });
});

describe('hole templates', () => {
  it('fill holes in repeated strings and references, deduplicating and sorting the names referred to', () => {
    const json = (a: string, b: string, c: string): Record<string, unknown> => ({
      name: a,
      virtual_hosts: [{ name: 'vh', domains: [b, '*', c], routes: [{ match: { prefix: b }, route: { cluster: c } }, { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: a, weight: 1 }, { name: 'fixed', weight: 2 }] } } }] }],
    });
    const t = holeTemplate(TYPE.ROUTE, json(hole(0), hole(1), hole(2)), 3);
    for (const v of [['rc', '/p', 'c1'], ['rc', '/same', 'rc'], ['ö'.repeat(200), '/'.repeat(130), 'fixed']] as const) {
      const got = holeResource(t, TYPE.ROUTE, v[0], v, []);
      expect(got).not.toBeNull();
      expectSame(got!, resourceFromJson(TYPE.ROUTE, json(v[0], v[1], v[2])), v.join(' '));
    }
    expect(holeResource(t, TYPE.ROUTE, 'rc', ['rc', '', 'c'], [])).toBeNull();
  });

  it('refuse a placeholder the JSON does not hold as a whole string', () => {
    expect(() => holeTemplate(TYPE.CLUSTER, { name: `x${hole(0)}`, connect_timeout: '1s' }, 1)).toThrow(/not the whole string/);
    expect(() => holeTemplate(TYPE.ROUTE, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: `c-${hole(0)}` } }] }] }, 1)).toThrow(/placeholder/);
  });
});

describe('route fields from templates', () => {
  const KINDS = ['exact', 'prefix', 'suffix', 'contains', 'regex', 'present', 'absent'] as const;

  /** A random route: shapes from a small set (so most are met many times), strings from NAMES and more. */
  function route(next: () => number): HttpRouteIR {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const str = (): string => pick([...NAMES.slice(0, 9), '/', '/p/', '/ä/ö/', '.*\\.css', `/${'seg/'.repeat(40)}`]);
    const match = (): StringMatchIR => {
      const kind = pick(KINDS);
      return kind === 'present' || kind === 'absent' ? { kind } : { kind, value: str() };
    };
    const few = (n: number): number => Math.floor(next() * n);
    return {
      origin: `gateways.edge.routes[${few(3000)}]${next() < 0.3 ? `+services.${str()}.routes[0]` : ''}`,
      match: {
        path: next() < 0.2 ? null : { kind: pick(['prefix', 'exact', 'regex'] as const), value: str() },
        headers: Array.from({ length: few(3) }, () => ({ name: pick(['x-v', 'x-user', ':authority']), match: match() })),
        query: Array.from({ length: few(2) }, () => ({ name: pick(['q', 'debug']), match: match() })),
        methods: pick([null, ['GET'], ['GET', 'POST']]),
      },
      backends: next() < 0.6 ? [{ upstream: str(), weight: 1 }] : Array.from({ length: 2 + few(2) }, (_, i) => ({ upstream: `${str()}|v=${i}`, weight: pick([1, 10, 90]) })),
      rewritePathPrefix: pick([null, '/', '/new/']),
      rewriteHost: pick([null, 'example.com', 'ünï.example']),
      timeoutMs: pick([null, 2500, 1000, 15]),
    };
  }

  function fromJson(r: HttpRouteIR): { field: Buffer; clusters: string[] } {
    const refs = emptyRefs();
    const field = lengthDelimited(3, encodeFromJson(messageType('envoy.config.route.v3.Route'), translateRoute(r), refs));
    return { field, clusters: [...refs.clusters].sort() };
  }

  it('equal each route encoded from JSON, for many shapes each met many times (seeded)', () => {
    const fields = new RouteFields();
    const next = rng(20240611);
    const shapes = Array.from({ length: 40 }, () => route(next));
    let n = 0;
    for (let i = 0; i < 3000; i++) {
      // A random route's strings on one of the 40 shapes.
      const shape = shapes[i % shapes.length]!;
      const r = route(next);
      const same: HttpRouteIR = {
        ...shape,
        origin: r.origin,
        match: { ...shape.match, path: shape.match.path && { kind: shape.match.path.kind, value: r.match.path?.value ?? '/x' }, headers: shape.match.headers.map((h, j) => ({ name: `${h.name}${j}`, match: 'value' in h.match ? { kind: h.match.kind, value: `${r.origin}${j}` } : h.match })) },
        backends: shape.backends.map((b, j) => ({ upstream: `${r.backends[0]!.upstream}${j % 2 ? '' : `-${j}`}`, weight: b.weight })),
      };
      for (const x of [r, same]) {
        const got = fields.field(x);
        const want = fromJson(x);
        expect(got.field.equals(want.field), JSON.stringify(x)).toBe(true);
        expect(got.clusters, JSON.stringify(x)).toEqual(want.clusters);
        n++;
      }
      if (i % 1000 === 999) fields.beginBuild();
    }
    expect(n).toBe(6000);
  });

  it('a route with an empty string (an exact header match on "") is encoded from JSON, with the same result', () => {
    const fields = new RouteFields();
    const r: HttpRouteIR = { origin: 'r', match: { path: null, headers: [{ name: 'x', match: { kind: 'exact', value: '' } }], query: [], methods: null }, backends: [{ upstream: 'c', weight: 1 }], rewritePathPrefix: null, rewriteHost: null, timeoutMs: null };
    for (let i = 0; i < 3; i++) expect(fields.field(r).field.equals(fromJson(r).field)).toBe(true);
  });
});
