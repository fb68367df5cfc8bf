// The hand-written encoders and spliced templates must give exactly protobufjs's bytes for the
// same JSON: versions are content hashes, and goldens pin them.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isIp } from '../../src/ir/build.js';
import type { EndpointIR, HttpListenerIR, UpstreamIR } from '../../src/ir/types.js';
import { ResourceEncoder } from '../../src/translate/index.js';
import { translateRouteConfig } from '../../src/translate/route.js';
import { translateCluster } from '../../src/translate/cluster.js';
import { addressBytes, loadAssignment, loadAssignmentBytes, loadAssignmentResource } from '../../src/translate/endpoint.js';
import { translateListener } from '../../src/translate/listener.js';
import { resourceFromBytes, resourceFromJson } from '../../src/xds/resource.js';
import { splicedResource, spliceTemplate } from '../../src/xds/splice.js';
import { messageType } from '../../src/xds/protos.js';
import { encodeFromJson } from '../../src/xds/json.js';
import { TYPE } from '../../src/xds/type-urls.js';

const hosts = ['10.0.0.1', '127.0.0.1', '::1', 'fd00::1:2', 'users.default.svc', 'a'];

function upstream(n: number, local: boolean, host = (i: number) => hosts[i % hosts.length]!): UpstreamIR {
  const endpoints: EndpointIR[] = Array.from({ length: n }, (_, i) => ({ instanceId: `inst-${i}`, host: host(i), port: 1 + ((i * 7919) % 65535), isIp: isIp(host(i)) }));
  return { key: local ? 'inbound|svc' : `svc|v=${n}`, service: 'svc', subset: null, protocol: n % 2 ? 'http' : 'http2', endpoints, local, tls: n % 3 ? { serverIdentity: 'spiffe://x/service/svc' } : null };
}

describe('hand-encoded load assignments', () => {
  it.each([0, 1, 2, 10, 200])('%i endpoints: the same bytes and version as protobufjs', (n) => {
    const u = upstream(n, false);
    const want = resourceFromJson(TYPE.ENDPOINT, loadAssignment(u));
    expect(loadAssignmentBytes(u).equals(want.body)).toBe(true);
    const r = loadAssignmentResource(u);
    expect(r.body.equals(want.body)).toBe(true);
    expect(r.version).toBe(want.version);
    expect(r.refs).toEqual(want.refs);
  });

  it('non-ASCII, long and empty names, lone surrogates (encoded from JSON), and port 0 (a oneof member, written as 0): the same bytes and version as protobufjs', () => {
    const names = ['', 'ä', 'inst-ünï', 'emoji-😀', 'lone-\uD800', `${'long-lone-'.repeat(5)}\uDC00`, 'x'.repeat(63), 'y'.repeat(64), 'z'.repeat(200), 'é'.repeat(100)];
    for (const [i, key] of names.entries()) {
      if (key === '') continue;
      const endpoints: EndpointIR[] = names.map((id, j) => ({ instanceId: id, host: j % 3 ? names[(i + j) % names.length]! : '10.0.0.1', port: j === 0 ? 0 : 80 * j, isIp: false }));
      const u: UpstreamIR = { key, service: 'svc', subset: null, protocol: 'http', endpoints, local: false, tls: null };
      const want = resourceFromJson(TYPE.ENDPOINT, loadAssignment(u));
      const r = loadAssignmentResource(u);
      expect(r.body.equals(want.body), key).toBe(true);
      // (resourceFromJson names a resource by decoding its bytes: a lone surrogate comes back as U+FFFDs.)
      expect(r.version, key).toBe(resourceFromBytes(TYPE.ENDPOINT, key, want.body).version);
      if (want.name === key) expect(r.version, key).toBe(want.version);
      expect(loadAssignmentBytes(u).equals(want.body), key).toBe(true);
    }
  });

  it('endpoints whose messages are near 128 bytes (one-byte lengths or not), empty strings, many endpoints: the same bytes and version as protobufjs', () => {
    const endpoints: EndpointIR[] = [];
    for (let h = 0; h <= 100; h += 1) {
      for (const id of [0, 1, 20, 40, 60, 96, 97]) endpoints.push({ instanceId: 'i'.repeat(id), host: `h${'0'.repeat(Math.max(0, h - 1))}`.slice(0, h), port: (h * 7919) % 70000, isIp: true });
    }
    for (const [from, n] of [[0, endpoints.length], [300, 5], [650, 1]] as const) {
      const u: UpstreamIR = { key: `svc-${from}`, service: 'svc', subset: null, protocol: 'http', endpoints: endpoints.slice(from, from + n), local: false, tls: null };
      const want = resourceFromJson(TYPE.ENDPOINT, loadAssignment(u));
      const r = loadAssignmentResource(u);
      expect(r.body.equals(want.body), `${from}`).toBe(true);
      expect(r.version).toBe(want.version);
      expect(loadAssignmentBytes(u).equals(want.body)).toBe(true);
    }
    // Every single endpoint on its own, each of its message lengths on either side of 128.
    for (const e of endpoints) {
      const u: UpstreamIR = { key: 'one', service: 'svc', subset: null, protocol: 'http', endpoints: [e], local: false, tls: null };
      expect(loadAssignmentResource(u).body.equals(resourceFromJson(TYPE.ENDPOINT, loadAssignment(u)).body), `${e.host.length} ${e.instanceId.length}`).toBe(true);
    }
  });

  it('addresses: the same bytes as protobufjs for IPv4, IPv6, names and port extremes', () => {
    const Address = messageType('envoy.config.core.v3.Address');
    for (const h of hosts) for (const port of [0, 1, 80, 127, 128, 16383, 16384, 65535]) {
      const want = Buffer.from(encodeFromJson(Address, { socket_address: { address: h, port_value: port } }));
      expect(addressBytes(h, port).equals(want), `${h}:${port}`).toBe(true);
    }
  });
});

describe('spliced templates', () => {
  it('a STATIC / STRICT_DNS cluster with its load assignment spliced in equals the whole encoding', () => {
    for (const n of [1, 3, 20]) for (const local of [true, false]) {
      const u = upstream(n, local, (i) => (local ? '127.0.0.1' : i % 2 ? 'db.internal' : 'cache.internal'));
      const full = translateCluster(u);
      expect(full['load_assignment']).toBeDefined();
      const want = resourceFromJson(TYPE.CLUSTER, full);
      const json = translateCluster(u);
      delete json['load_assignment'];
      const got = splicedResource(spliceTemplate(TYPE.CLUSTER, u.key, json, 'load_assignment'), loadAssignmentBytes(u));
      expect(got.body.equals(want.body)).toBe(true);
      expect(got.version).toBe(want.version);
      expect(got.refs).toEqual(want.refs);
    }
  });

  it('a listener with its address spliced in equals the whole encoding (mTLS, authz, tcp)', () => {
    const authz = { rules: [{ name: 'allow-000', principals: ['spiffe://x/service/a'], pathPrefix: null, methods: null }] };
    const listeners = [
      { kind: 'http' as const, name: 'inbound', direction: 'inbound' as const, bind: { host: '10.1.2.3', port: 8080 }, tls: { mode: 'strict' as const, trustDomain: 'x' }, authz, routeConfigName: 'inbound', virtualHosts: [] },
      { kind: 'http' as const, name: 'outbound', direction: 'outbound' as const, bind: { host: '127.0.0.1', port: 15001 }, tls: null, authz: null, routeConfigName: 'outbound', virtualHosts: [] },
      { kind: 'tcp' as const, name: 'inbound', direction: 'inbound' as const, bind: { host: '::', port: 5432 }, tls: { mode: 'permissive' as const, trustDomain: 'x' }, authz, upstream: 'inbound|db' },
    ];
    for (const l of listeners) {
      const want = resourceFromJson(TYPE.LISTENER, translateListener(l));
      const json = translateListener(l);
      delete json['address'];
      const got = splicedResource(spliceTemplate(TYPE.LISTENER, l.name, json, 'address'), addressBytes(l.bind.host, l.bind.port));
      expect(got.body.equals(want.body), l.name).toBe(true);
      expect(got.refs).toEqual(want.refs);
    }
  });

  it('refuses a template that sets the spliced field', () => {
    expect(() => spliceTemplate(TYPE.LISTENER, 'x', { name: 'x', address: {} }, 'address')).toThrow(/spliced field/);
  });
});

describe('route configurations assembled from per-route bytes', () => {
  it('equal protobufjs encoding translateRouteConfig as a whole (gateway, authz, empty)', () => {
    const route = (n: number, cluster: string) => ({
      origin: `r${n}`,
      match: { path: { kind: 'prefix' as const, value: `/p${n}/` }, headers: [{ name: 'x-v', match: { kind: 'exact' as const, value: 'a' } }], query: [], methods: n % 2 ? ['GET'] : null },
      backends: n % 3 ? [{ upstream: cluster, weight: 1 }] : [{ upstream: cluster, weight: 90 }, { upstream: `${cluster}|v=2`, weight: 10 }],
      rewritePathPrefix: n % 4 ? null : '/',
      rewriteHost: null,
      timeoutMs: n % 5 ? 2500 : null,
    });
    const authz = { rules: [{ name: 'allow-000', principals: ['spiffe://x/service/a'], pathPrefix: '/p', methods: ['GET'] }] };
    const listeners: HttpListenerIR[] = [
      { kind: 'http', name: 'web', direction: 'gateway', bind: { host: '0.0.0.0', port: 80 }, tls: null, authz: null, routeConfigName: 'web', virtualHosts: [{ name: 'web', domains: ['*'], routes: Array.from({ length: 50 }, (_, i) => route(i, `s${i % 7}`)) }] },
      { kind: 'http', name: 'inbound', direction: 'inbound', bind: { host: '10.0.0.1', port: 80 }, tls: { mode: 'strict', trustDomain: 'x' }, authz, routeConfigName: 'inbound', virtualHosts: [{ name: 'inbound', domains: ['*'], routes: [route(1, 'inbound|a')] }] },
      { kind: 'http', name: 'outbound', direction: 'outbound', bind: { host: '127.0.0.1', port: 15001 }, tls: null, authz: null, routeConfigName: 'outbound', virtualHosts: [] },
    ];
    for (const l of listeners) {
      const want = resourceFromJson(TYPE.ROUTE, translateRouteConfig(l));
      const got = new ResourceEncoder().routeConfig(l);
      expect(got.body.equals(want.body), l.name).toBe(true);
      expect(got.version).toBe(want.version);
      expect(got.refs).toEqual(want.refs);
    }
  });
});

describe('resource versions', () => {
  it('hash type URL, name and body as one concatenation would, for any name and body size (reused buffer grown, or not used above 1 MiB)', () => {
    const want = (t: string, name: string, body: Buffer): string => createHash('sha256').update(Buffer.concat([Buffer.from(`${t}\0${name}\0`, 'utf8'), body])).digest('base64url').slice(0, 22);
    for (const name of ['a', 'ünï', 'emoji-😀', 'lone-\uD800', 'n'.repeat(300)]) {
      for (const size of [0, 1, 500, 16 * 1024, 100_000, 1024 * 1024, 2 * 1024 * 1024 + 3]) {
        const body = Buffer.alloc(size, size % 251);
        for (const t of [TYPE.CLUSTER, TYPE.SECRET]) expect(resourceFromBytes(t, name, body).version, `${name} ${size}`).toBe(want(t, name, body));
      }
    }
  });
});
