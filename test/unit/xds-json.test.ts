// Proto3 JSON <-> encoded protobuf (src/xds/json.ts): round trips through the well-known
// types Envoy uses everywhere, exact error paths, and the references a resource makes.
import { describe, expect, it } from 'vitest';
import { anyToJson, decodeToJson, emptyRefs, encodeFromJson, ProtoJsonError, type Refs } from '../../src/xds/json.js';
import { messageType, typeUrlOf } from '../../src/xds/protos.js';

const CLUSTER = messageType('envoy.config.cluster.v3.Cluster');
const LISTENER = messageType('envoy.config.listener.v3.Listener');
const ROUTE = messageType('envoy.config.route.v3.RouteConfiguration');
const HCM_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const TCP_URL = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const DOWNSTREAM_TLS_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const UPSTREAM_TLS_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

type Obj = Record<string, unknown>;

function roundTrip(type: ReturnType<typeof messageType>, json: unknown): Obj {
  return decodeToJson(type, encodeFromJson(type, json));
}

/** The ProtoJsonError thrown by fn (fails the test if fn does not throw one). */
function errorOf(fn: () => unknown): ProtoJsonError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtoJsonError);
    return err as ProtoJsonError;
  }
  throw new Error('expected a ProtoJsonError, but nothing was thrown');
}

function hcm(extra: Obj = {}): Obj {
  return {
    '@type': HCM_URL,
    stat_prefix: 'ingress_http',
    codec_type: 'AUTO',
    rds: { route_config_name: 'local_route', config_source: { ads: {}, resource_api_version: 'V3' } },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_URL } }],
    ...extra,
  };
}

function listenerWith(typedConfig: Obj, extra: Obj = {}): Obj {
  return {
    name: 'listener_0',
    address: { socket_address: { address: '0.0.0.0', port_value: 10000 } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: typedConfig }] }],
    ...extra,
  };
}

function refsOf(type: ReturnType<typeof messageType>, json: unknown): { clusters: string[]; routes: string[]; secrets: string[] } {
  const refs: Refs = emptyRefs();
  encodeFromJson(type, json, refs);
  return { clusters: [...refs.clusters].sort(), routes: [...refs.routes].sort(), secrets: [...refs.secrets].sort() };
}

describe('encodeFromJson / decodeToJson round trips', () => {
  it('Cluster: durations, wrappers as bare numbers, enums by name', () => {
    const json = {
      name: 'backend',
      type: 'EDS',
      connect_timeout: '1.5s',
      lb_policy: 'LEAST_REQUEST',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'backend-eds' },
      per_connection_buffer_limit_bytes: 32768,
      common_lb_config: { healthy_panic_threshold: { value: 40 } },
      dns_refresh_rate: '0.25s',
    };
    const out = roundTrip(CLUSTER, json);
    expect(out).toEqual({
      name: 'backend',
      type: 'EDS',
      connect_timeout: '1.500s', // canonical proto3 JSON: 0, 3, 6 or 9 fractional digits
      lb_policy: 'LEAST_REQUEST',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'backend-eds' },
      per_connection_buffer_limit_bytes: 32768,
      common_lb_config: { healthy_panic_threshold: { value: 40 } },
      dns_refresh_rate: '0.250s',
    });
    // The canonical output encodes to the very same bytes (a fixed point).
    expect(Buffer.from(encodeFromJson(CLUSTER, out))).toEqual(Buffer.from(encodeFromJson(CLUSTER, json)));
  });

  it('decodes the durations to the exact seconds and nanos', () => {
    const decoded = CLUSTER.decode(encodeFromJson(CLUSTER, { name: 'c', connect_timeout: '1.5s', dns_refresh_rate: '0.25s' })) as unknown as Obj;
    const ct = decoded['connect_timeout'] as { seconds: unknown; nanos: number };
    const dr = decoded['dns_refresh_rate'] as { seconds: unknown; nanos: number };
    expect([Number(ct.seconds), ct.nanos]).toEqual([1, 500_000_000]);
    expect([Number(dr.seconds), dr.nanos]).toEqual([0, 250_000_000]);
    expect(roundTrip(CLUSTER, { name: 'c', connect_timeout: '2s' })['connect_timeout']).toBe('2s');
    expect(roundTrip(CLUSTER, { name: 'c', connect_timeout: '0.000001s' })['connect_timeout']).toBe('0.000001s');
    expect(roundTrip(CLUSTER, { name: 'c', connect_timeout: '0.123456789s' })['connect_timeout']).toBe('0.123456789s');
  });

  it('a wrapper written as {value: n} encodes like the bare number', () => {
    const bare = encodeFromJson(CLUSTER, { name: 'c', per_connection_buffer_limit_bytes: 1024 });
    const boxed = encodeFromJson(CLUSTER, { name: 'c', per_connection_buffer_limit_bytes: { value: 1024 } });
    expect(Buffer.from(boxed)).toEqual(Buffer.from(bare));
    expect(decodeToJson(CLUSTER, bare)['per_connection_buffer_limit_bytes']).toBe(1024);
  });

  it('an enum given by number decodes to its name', () => {
    expect(roundTrip(CLUSTER, { name: 'c', type: 3 })['type']).toBe('EDS');
    expect(Buffer.from(encodeFromJson(CLUSTER, { name: 'c', type: 3 }))).toEqual(Buffer.from(encodeFromJson(CLUSTER, { name: 'c', type: 'EDS' })));
  });

  it('does not write proto3 scalars at their default (canonical encoding), but keeps oneof zeros', () => {
    const explicit = encodeFromJson(CLUSTER, { name: 'c', lb_policy: 'ROUND_ROBIN', connect_timeout: '1s', per_connection_buffer_limit_bytes: 0 });
    const implicit = encodeFromJson(CLUSTER, { name: 'c', connect_timeout: '1s', per_connection_buffer_limit_bytes: 0 });
    expect(Buffer.from(explicit)).toEqual(Buffer.from(implicit)); // ROUND_ROBIN is 0
    expect(Buffer.from(encodeFromJson(CLUSTER, { name: 'c', connect_timeout: '1.000s' }))).toEqual(Buffer.from(encodeFromJson(CLUSTER, { name: 'c', connect_timeout: '1s' })));
    // A zero inside a oneof is meaningful and kept: present_match false differs from unset.
    const ROUTE = messageType('envoy.config.route.v3.RouteConfiguration');
    const withHeader = (h: Obj) => encodeFromJson(ROUTE, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', headers: [h] }, route: { cluster: 'c' } }] }] });
    expect(Buffer.from(withHeader({ name: 'x', present_match: false }))).not.toEqual(Buffer.from(withHeader({ name: 'x' })));
  });

  it('Listener: a nested Any (HttpConnectionManager with its own Any http filter) keeps "@type"', () => {
    const json = listenerWith(hcm({ common_http_protocol_options: { idle_timeout: '300s' } }));
    const out = roundTrip(LISTENER, json);
    const filter = (out['filter_chains'] as Obj[])[0]!['filters'] as Obj[];
    const tc = filter[0]!['typed_config'] as Obj;
    expect(tc['@type']).toBe(HCM_URL);
    expect(tc['stat_prefix']).toBe('ingress_http');
    // codec_type AUTO is the enum's default: canonical proto3 does not write it.
    expect(tc['codec_type']).toBeUndefined();
    expect(tc['rds']).toEqual({ route_config_name: 'local_route', config_source: { ads: {}, resource_api_version: 'V3' } });
    expect(tc['common_http_protocol_options']).toEqual({ idle_timeout: '300s' });
    expect(tc['http_filters']).toEqual([{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_URL } }]);
    expect(out['address']).toEqual({ socket_address: { address: '0.0.0.0', port_value: 10000 } });
  });

  it('Listener: Struct metadata keeps numbers, strings, bools, nulls, lists and nested objects', () => {
    const metadata = { filter_metadata: { 'acme.io': { z: 1.5, a: 'x', t: true, f: false, n: null, list: [1, 'two', null, { deep: [] }], obj: {} } } };
    const out = roundTrip(LISTENER, { name: 'l', metadata });
    expect(out['metadata']).toEqual(metadata);
  });

  it('Struct keys are written in sorted order: key order in the input does not change the bytes', () => {
    const a = encodeFromJson(LISTENER, { name: 'l', metadata: { filter_metadata: { m: { b: 1, a: { y: 1, x: 2 } } } } });
    const b = encodeFromJson(LISTENER, { name: 'l', metadata: { filter_metadata: { m: { a: { x: 2, y: 1 }, b: 1 } } } });
    expect(Buffer.from(a)).toEqual(Buffer.from(b));
  });

  it('RouteConfiguration: routes, weighted clusters, timeouts, header matchers', () => {
    const json = {
      name: 'local_route',
      virtual_hosts: [
        {
          name: 'vh',
          domains: ['*'],
          routes: [
            { match: { prefix: '/api' }, route: { cluster: 'api', timeout: '0.25s', retry_policy: { retry_on: '5xx', num_retries: 3 } } },
            {
              match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { exact: '1' } }] },
              route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }] } },
            },
          ],
        },
      ],
    };
    expect(roundTrip(ROUTE, json)).toEqual({
      name: 'local_route',
      virtual_hosts: [
        {
          name: 'vh',
          domains: ['*'],
          routes: [
            { match: { prefix: '/api' }, route: { cluster: 'api', timeout: '0.250s', retry_policy: { retry_on: '5xx', num_retries: 3 } } },
            {
              match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { exact: '1' } }] },
              route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }] } },
            },
          ],
        },
      ],
    });
  });

  it('lowerCamelCase and snake_case keys give byte-identical encodings', () => {
    const snake = listenerWith(hcm(), { per_connection_buffer_limit_bytes: 1024 });
    const camel = {
      name: 'listener_0',
      address: { socketAddress: { address: '0.0.0.0', portValue: 10000 } },
      filterChains: [
        {
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typedConfig: {
                '@type': HCM_URL,
                statPrefix: 'ingress_http',
                codecType: 'AUTO',
                rds: { routeConfigName: 'local_route', configSource: { ads: {}, resourceApiVersion: 'V3' } },
                httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_URL } }],
              },
            },
          ],
        },
      ],
      perConnectionBufferLimitBytes: 1024,
    };
    expect(Buffer.from(encodeFromJson(LISTENER, camel))).toEqual(Buffer.from(encodeFromJson(LISTENER, snake)));
  });

  it('decode → encode is a fixed point for a whole listener', () => {
    const bytes = encodeFromJson(LISTENER, listenerWith(hcm(), { metadata: { filter_metadata: { m: { k: [1, 2] } } } }));
    const again = encodeFromJson(LISTENER, decodeToJson(LISTENER, bytes));
    expect(Buffer.from(again)).toEqual(Buffer.from(bytes));
  });

  it('null means unset', () => {
    expect(Buffer.from(encodeFromJson(CLUSTER, { name: 'c', connect_timeout: null }))).toEqual(Buffer.from(encodeFromJson(CLUSTER, { name: 'c' })));
  });
});

describe('anyToJson', () => {
  it('decodes a known type with "@type" first-class', () => {
    const type = messageType(HCM_URL);
    const { '@type': _t, ...body } = hcm();
    const bytes = encodeFromJson(type, body);
    const json = anyToJson(HCM_URL, bytes);
    expect(json['@type']).toBe(HCM_URL);
    expect(json['stat_prefix']).toBe('ingress_http');
    expect(json['rds']).toEqual({ route_config_name: 'local_route', config_source: { ads: {}, resource_api_version: 'V3' } });
  });

  it('keeps an unknown type as base64 bytes instead of failing', () => {
    const json = anyToJson('type.googleapis.com/acme.Unknown', Buffer.from([1, 2, 3]));
    expect(json).toEqual({ '@type': 'type.googleapis.com/acme.Unknown', value: Buffer.from([1, 2, 3]).toString('base64') });
  });

  it('well-known types inside an Any use the {"@type", "value"} form', () => {
    const listener = { name: 'l', listener_filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.5s' } }] };
    const out = roundTrip(LISTENER, listener);
    expect((out['listener_filters'] as Obj[])[0]!['typed_config']).toEqual({ '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.500s' });
  });

  it('typeUrlOf and the Any type_url agree', () => {
    const bytes = encodeFromJson(LISTENER, listenerWith(hcm()));
    const decoded = LISTENER.decode(bytes) as unknown as { filter_chains: { filters: { typed_config: { type_url: string } }[] }[] };
    expect(decoded.filter_chains[0]!.filters[0]!.typed_config.type_url).toBe(typeUrlOf('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'));
  });
});

describe('errors carry the exact path', () => {
  it('unknown field inside a nested typed_config', () => {
    const e = errorOf(() => encodeFromJson(LISTENER, listenerWith(hcm({ stat_prefx: 'oops' }))));
    expect(e.path).toBe('filter_chains[0].filters[0].typed_config.stat_prefx');
    expect(e.message).toContain('unknown field "stat_prefx"');
    expect(e.message).toContain('HttpConnectionManager');
  });

  it('unknown field at the top level and deep inside a list', () => {
    expect(errorOf(() => encodeFromJson(CLUSTER, { nmae: 'c' })).path).toBe('nmae');
    const e = errorOf(() =>
      encodeFromJson(ROUTE, { name: 'r', virtual_hosts: [{ name: 'a', domains: ['*'] }, { name: 'b', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { clustr: 'x' } }] }] }),
    );
    expect(e.path).toBe('virtual_hosts[1].routes[0].route.clustr');
  });

  it('wrong types', () => {
    const cases: Array<[Obj, string, RegExp]> = [
      [{ name: 5 }, 'name', /expected a string, got number 5/],
      [{ name: 'c', connect_timeout: 5 }, 'connect_timeout', /expected a duration string/],
      [{ name: 'c', per_connection_buffer_limit_bytes: 'lots' }, 'per_connection_buffer_limit_bytes', /expected an integer/],
      [{ name: 'c', per_connection_buffer_limit_bytes: -1 }, 'per_connection_buffer_limit_bytes', /non-negative/],
      [{ name: 'c', per_connection_buffer_limit_bytes: 2 ** 32 }, 'per_connection_buffer_limit_bytes', /out of 32-bit range/],
      [{ name: 'c', per_connection_buffer_limit_bytes: 1.5 }, 'per_connection_buffer_limit_bytes', /expected an integer/],
      [{ name: 'c', respect_dns_ttl: 'yes' }, 'respect_dns_ttl', /expected true or false/],
      [{ name: 'c', eds_cluster_config: 'x' }, 'eds_cluster_config', /expected an object/],
      [{ name: 'c', health_checks: {} }, 'health_checks', /expected a list/],
      [{ name: 'c', metadata: { filter_metadata: { m: [1] } } }, 'metadata.filter_metadata.m', /expected an object/],
    ];
    for (const [json, path, msg] of cases) {
      const e = errorOf(() => encodeFromJson(CLUSTER, json));
      expect(e.path, JSON.stringify(json)).toBe(path);
      expect(e.message, JSON.stringify(json)).toMatch(msg);
    }
  });

  it('signed 32-bit integers stop at 2^31 - 1', () => {
    const int32 = messageType('google.protobuf.Int32Value');
    expect(() => encodeFromJson(int32, 2 ** 31 - 1)).not.toThrow();
    expect(() => encodeFromJson(int32, -(2 ** 31))).not.toThrow();
    expect(errorOf(() => encodeFromJson(int32, 2 ** 31)).message).toMatch(/out of 32-bit range/);
    const uint32 = messageType('google.protobuf.UInt32Value');
    expect(() => encodeFromJson(uint32, 2 ** 32 - 1)).not.toThrow();
  });

  it('bad durations', () => {
    for (const bad of ['1.5', '1m', '1.5 s', 's', '.5s', '1.1234567890s', '-s', '1e3s', '']) {
      const e = errorOf(() => encodeFromJson(ROUTE, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', timeout: bad } }] }] }));
      expect(e.path, bad).toBe('virtual_hosts[0].routes[0].route.timeout');
      expect(e.message, bad).toMatch(/duration/);
    }
    expect(errorOf(() => encodeFromJson(CLUSTER, { name: 'c', connect_timeout: '315576000001s' })).message).toMatch(/out of range/);
  });

  it('unknown enum values, including names that exist on Object.prototype', () => {
    for (const bad of ['EDSS', 'eds', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const e = errorOf(() => encodeFromJson(CLUSTER, { name: 'c', type: bad }));
      expect(e.path, bad).toBe('type');
      expect(e.message, bad).toMatch(/unknown value .* for enum DiscoveryType; expected one of .*EDS/);
    }
    expect(errorOf(() => encodeFromJson(CLUSTER, { name: 'c', type: 1.5 })).message).toMatch(/expected an enum name/);
  });

  it('unknown and missing "@type"', () => {
    const unknown = errorOf(() => encodeFromJson(LISTENER, listenerWith({ '@type': 'type.googleapis.com/acme.NoSuchFilter', x: 1 })));
    expect(unknown.path).toBe('filter_chains[0].filters[0].typed_config.@type');
    expect(unknown.message).toContain('acme.NoSuchFilter');
    const missing = errorOf(() => encodeFromJson(LISTENER, listenerWith({ stat_prefix: 'x' })));
    expect(missing.path).toBe('filter_chains[0].filters[0].typed_config');
    expect(missing.message).toMatch(/"@type"/);
    const inner = errorOf(() => encodeFromJson(LISTENER, listenerWith(hcm({ http_filters: [{ name: 'r', typed_config: { '@type': 'type.googleapis.com/nope.Router' } }] }))));
    expect(inner.path).toBe('filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.@type');
  });

  it('two members of the same oneof', () => {
    const cluster = errorOf(() => encodeFromJson(CLUSTER, { name: 'c', type: 'STATIC', cluster_type: { name: 'envoy.clusters.aggregate' } }));
    expect(cluster.path).toBe('cluster_type');
    expect(cluster.message).toMatch(/oneof cluster_discovery_type/);
    const rds = errorOf(() => encodeFromJson(LISTENER, listenerWith(hcm({ route_config: { name: 'inline' } }))));
    expect(rds.path).toBe('filter_chains[0].filters[0].typed_config.route_config');
    expect(rds.message).toMatch(/"route_config" and "rds"/);
    // The same member twice, in both spellings, is not a oneof clash but still ambiguous.
    const twice = errorOf(() => encodeFromJson(CLUSTER, { name: 'c', connect_timeout: '1s', connectTimeout: '2s' }));
    expect(twice.path).toBe('connectTimeout');
    expect(twice.message).toMatch(/same field/);
  });

  it('a null oneof member does not count as set', () => {
    expect(() => encodeFromJson(CLUSTER, { name: 'c', type: 'STATIC', cluster_type: null })).not.toThrow();
  });

  it('deep nesting fails with an error, not a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 500; i++) deep = { a: deep };
    const e = errorOf(() => encodeFromJson(LISTENER, { name: 'l', metadata: { filter_metadata: { m: deep as Obj } } }));
    expect(e.message).toMatch(/nesting too deep/);
  });
});

describe('reference collection', () => {
  it('clusters named by routes, weighted clusters and mirrors', () => {
    const refs = refsOf(ROUTE, {
      name: 'r',
      virtual_hosts: [
        {
          name: 'vh',
          domains: ['*'],
          routes: [
            { match: { prefix: '/a' }, route: { cluster: 'a', request_mirror_policies: [{ cluster: 'mirror' }] } },
            { match: { prefix: '/w' }, route: { weighted_clusters: { clusters: [{ name: 'w1', weight: 1 }, { name: 'w2', weight: 1 }] } } },
            { match: { prefix: '/h' }, route: { cluster_header: 'x-cluster' } },
            { match: { prefix: '/r' }, redirect: { path_redirect: '/a' } },
          ],
        },
      ],
    });
    expect(refs).toEqual({ clusters: ['a', 'mirror', 'w1', 'w2'], routes: [], secrets: [] });
  });

  it('clusters named by tcp_proxy, plain and weighted', () => {
    const listener = {
      name: 'tcp',
      filter_chains: [
        { filters: [{ name: 't', typed_config: { '@type': TCP_URL, stat_prefix: 's', cluster: 'db' } }] },
        { filter_chain_match: { server_names: ['x'] }, filters: [{ name: 't', typed_config: { '@type': TCP_URL, stat_prefix: 's', weighted_clusters: { clusters: [{ name: 'db-a', weight: 1 }, { name: 'db-b', weight: 1 }] } } }] },
      ],
    };
    expect(refsOf(LISTENER, listener)).toEqual({ clusters: ['db', 'db-a', 'db-b'], routes: [], secrets: [] });
  });

  it('the route configuration named by HCM rds; clusters of an inline route_config', () => {
    expect(refsOf(LISTENER, listenerWith(hcm()))).toEqual({ clusters: [], routes: ['local_route'], secrets: [] });
    const inline = hcm();
    delete inline['rds'];
    inline['route_config'] = { name: 'inline', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'inline-backend' } }] }] };
    expect(refsOf(LISTENER, listenerWith(inline))).toEqual({ clusters: ['inline-backend'], routes: [], secrets: [] });
  });

  it('SDS secret names only when sds_config is set', () => {
    const sds = { ads: {}, resource_api_version: 'V3' };
    const listener = listenerWith(hcm(), {});
    (listener['filter_chains'] as Obj[])[0]!['transport_socket'] = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': DOWNSTREAM_TLS_URL,
        common_tls_context: {
          tls_certificate_sds_secret_configs: [{ name: 'server-cert', sds_config: sds }, { name: 'static-bootstrap-cert' }],
          validation_context_sds_secret_config: { name: 'trust-bundle', sds_config: sds },
        },
      },
    };
    expect(refsOf(LISTENER, listener)).toEqual({ clusters: [], routes: ['local_route'], secrets: ['server-cert', 'trust-bundle'] });

    const cluster = {
      name: 'c',
      transport_socket: {
        name: 'tls',
        typed_config: { '@type': UPSTREAM_TLS_URL, common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'client-cert', sds_config: sds }, { name: 'no-sds' }] } },
      },
    };
    expect(refsOf(CLUSTER, cluster)).toEqual({ clusters: [], routes: [], secrets: ['client-cert'] });
  });

  it('a resource that names nothing has no refs', () => {
    expect(refsOf(CLUSTER, { name: 'c', type: 'STATIC', connect_timeout: '1s' })).toEqual({ clusters: [], routes: [], secrets: [] });
  });
});
