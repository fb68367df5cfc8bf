// Envoy resources (proto3 JSON with "@type") for the protocol tests, plus server/client setup.
import { afterEach } from 'vitest';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';
import { TYPE, XdsTestClient, type ClientOptions, type DeltaResponse, type DeltaStream, type SotwResponse, type SotwStream } from '../helpers/xds-client.js';
import { versionOf, type Snapshot } from '../../src/xds/snapshot.js';
import type { TypeUrl } from '../../src/xds/type-urls.js';

export { TYPE };

export type Json = Record<string, unknown>;

const ADS_SOURCE = { ads: {}, resource_api_version: 'V3' };

/** An EDS cluster (its ClusterLoadAssignment is named like the cluster). */
export function edsCluster(name: string, connectTimeout = '1s'): Json {
  return {
    '@type': TYPE.CLUSTER,
    name,
    type: 'EDS',
    connect_timeout: connectTimeout,
    eds_cluster_config: { eds_config: ADS_SOURCE },
  };
}

/** A STATIC cluster (no EDS). */
export function staticCluster(name: string, port = 8080, connectTimeout = '1s'): Json {
  return {
    '@type': TYPE.CLUSTER,
    name,
    type: 'STATIC',
    connect_timeout: connectTimeout,
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
}

export function cla(name: string, ...ports: number[]): Json {
  return {
    '@type': TYPE.ENDPOINT,
    cluster_name: name,
    endpoints: [
      {
        lb_endpoints: (ports.length ? ports : [8080]).map((p) => ({
          endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } },
        })),
      },
    ],
  };
}

/** An HTTP listener whose connection manager takes its routes from RDS `routeName`. */
export function listener(name: string, routeName: string, port = 10000, statPrefix = 'ingress'): Json {
  return {
    '@type': TYPE.LISTENER,
    name,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: statPrefix,
              rds: { route_config_name: routeName, config_source: ADS_SOURCE },
              http_filters: [
                {
                  name: 'envoy.filters.http.router',
                  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

export function route(name: string, cluster: string, prefix = '/'): Json {
  return {
    '@type': TYPE.ROUTE,
    name,
    virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix }, route: { cluster } }] }],
  };
}

export function secret(name: string, value: string): Json {
  return { '@type': TYPE.SECRET, name, generic_secret: { secret: { inline_string: value } } };
}

type StartOpts = Parameters<typeof startInProcess>[0];

/**
 * Per-test servers and clients, closed after each test (call once per file, at top level).
 */
export function harness(): {
  start(opts?: StartOpts): Promise<InProcessServer>;
  client(address: string, opts?: ClientOptions): XdsTestClient;
} {
  const servers: InProcessServer[] = [];
  const clients: XdsTestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return {
    async start(opts) {
      const s = await startInProcess(opts);
      servers.push(s);
      return s;
    },
    client(address, opts) {
      const c = new XdsTestClient(address, opts);
      clients.push(c);
      return c;
    },
  };
}

/** Expected version of a SotW response naming `names` of type `t` in `snap` (sorted by name). */
export function versionFor(snap: Snapshot, t: TypeUrl, names: string[]): string {
  return versionOf(
    [...names]
      .sort()
      .map((n) => snap.get(t, n))
      .filter((r): r is NonNullable<typeof r> => r !== undefined),
  );
}

/** Receive one response and ACK it; returns it. */
export async function nextAndAck(s: SotwStream, timeoutMs?: number): Promise<SotwResponse> {
  const r = await s.next(timeoutMs);
  s.ack(r);
  return r;
}

export async function nextDeltaAndAck(s: DeltaStream, timeoutMs?: number): Promise<DeltaResponse> {
  const r = await s.next(timeoutMs);
  s.ack(r);
  return r;
}

/** The resource JSONs of a snapshot input list, by name and type, for exact comparisons. */
export function pick(resources: Json[], t: TypeUrl, ...names: string[]): Json[] {
  return names.map((n) => {
    const r = resources.find((x) => x['@type'] === t && (x['name'] ?? x['cluster_name']) === n);
    if (!r) throw new Error(`fixture has no ${t} ${n}`);
    return r;
  });
}
