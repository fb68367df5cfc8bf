// UpstreamIR → envoy.config.cluster.v3.Cluster.
// IP endpoints are served over EDS; DNS names make a STRICT_DNS cluster that Envoy resolves
// (docker compose service names); the local app of a sidecar is a STATIC cluster.
import type { UpstreamIR } from '../ir/types.js';
import { ADS_SOURCE, T } from './common.js';
import { loadAssignment } from './endpoint.js';

export const CONNECT_TIMEOUT = '1s';

export function usesEds(u: UpstreamIR): boolean {
  return !u.local && u.endpoints.every((e) => e.isIp);
}

export function translateCluster(u: UpstreamIR): Record<string, unknown> {
  const c: Record<string, unknown> = { name: u.key, connect_timeout: CONNECT_TIMEOUT };
  if (usesEds(u)) {
    c['type'] = 'EDS';
    c['eds_cluster_config'] = { eds_config: ADS_SOURCE };
  } else if (u.endpoints.every((e) => e.isIp)) {
    c['type'] = 'STATIC';
    c['load_assignment'] = loadAssignment(u);
  } else {
    c['type'] = 'STRICT_DNS';
    c['dns_lookup_family'] = 'V4_PREFERRED';
    c['load_assignment'] = loadAssignment(u);
  }
  if (u.protocol === 'http2' || u.protocol === 'grpc') {
    c['typed_extension_protocol_options'] = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': T.HTTP_PROTOCOL_OPTIONS,
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return c;
}
