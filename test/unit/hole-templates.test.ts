// Resources filled in from templates with string holes (xds/holes.ts, translate/templates.ts)
// must be exactly what encoding their JSON gives: bytes, version (a content hash goldens pin)
// and references.
import { describe, expect, it } from 'vitest';
import type { Protocol, UpstreamIR } from '../../src/ir/types.js';
import { translateCluster } from '../../src/translate/cluster.js';
import { edsClusterResource } from '../../src/translate/templates.js';
import { fillHoles, hole, holeTemplate } from '../../src/xds/holes.js';
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
      const got = fillHoles(t, v[0], v, []);
      expect(got).not.toBeNull();
      expectSame(got!, resourceFromJson(TYPE.ROUTE, json(...v)), v.join(' '));
    }
    expect(fillHoles(t, 'rc', ['rc', '', 'c'], [])).toBeNull();
  });

  it('refuse a placeholder the JSON does not hold as a whole string', () => {
    expect(() => holeTemplate(TYPE.CLUSTER, { name: `x${hole(0)}`, connect_timeout: '1s' }, 1)).toThrow(/not the whole string/);
    expect(() => holeTemplate(TYPE.ROUTE, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: `c-${hole(0)}` } }] }] }, 1)).toThrow(/placeholder/);
  });
});
