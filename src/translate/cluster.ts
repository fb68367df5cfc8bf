// UpstreamIR → envoy.config.cluster.v3.Cluster.
// IP endpoints are served over EDS; DNS names make a STRICT_DNS cluster that Envoy resolves
// (docker compose service names); the local app of a sidecar is a STATIC cluster.
import type { UpstreamIR } from '../ir/types.js';
import { ADS_SOURCE, commonTlsContext, T } from './common.js';
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
  if (u.tls) {
    // mTLS to the service's sidecars: present our identity, accept only the service's exact
    // SPIFFE ID (URI SAN), chained to the mesh trust bundle.
    const ctx = commonTlsContext();
    const sds = ctx['validation_context_sds_secret_config'];
    delete ctx['validation_context_sds_secret_config'];
    ctx['combined_validation_context'] = {
      default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: u.tls.serverIdentity } }] },
      validation_context_sds_secret_config: sds,
    };
    ctx['alpn_protocols'] = u.protocol === 'http2' || u.protocol === 'grpc' ? ['h2'] : u.protocol === 'tcp' ? [] : ['http/1.1'];
    if ((ctx['alpn_protocols'] as string[]).length === 0) delete ctx['alpn_protocols'];
    c['transport_socket'] = {
      name: 'envoy.transport_sockets.tls',
      typed_config: { '@type': T.UPSTREAM_TLS, common_tls_context: ctx, sni: u.service },
    };
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
