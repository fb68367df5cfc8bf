// Pieces every translator uses.
export const ADS_SOURCE = { ads: {}, resource_api_version: 'V3' } as const;

/** The bootstrap's static cluster for meshgate's gRPC port (xDS and access logs). */
export const MESHGATE_CLUSTER = 'meshgate_xds';

/** SDS secret names: every proxy holds its own identity and the mesh's trust bundle. */
export const IDENTITY_SECRET = 'identity';
export const TRUST_BUNDLE_SECRET = 'trust-bundle';

export const T = {
  HCM: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  ROUTER: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  TCP_PROXY: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  HTTP_PROTOCOL_OPTIONS: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  DOWNSTREAM_TLS: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  UPSTREAM_TLS: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  TLS_INSPECTOR: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  HTTP_RBAC: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  HTTP_RBAC_PER_ROUTE: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  NETWORK_RBAC: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
  HTTP_GRPC_ACCESS_LOG: 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
} as const;

/**
 * Secrets come over ADS and are waited for without end: with Envoy's default
 * initial_fetch_timeout (15 s) a listener or cluster whose secrets have not arrived (a proxy
 * that could not prove its identity, or meshgate slow after a restart) goes active without its
 * certificate and every handshake on it fails. Never a listener without its certificate.
 */
const SDS_SOURCE = { ...ADS_SOURCE, initial_fetch_timeout: '0s' } as const;

/** The identity certificate and trust bundle, both over SDS (ADS). */
export function commonTlsContext(): Record<string, unknown> {
  return {
    tls_certificate_sds_secret_configs: [{ name: IDENTITY_SECRET, sds_config: SDS_SOURCE }],
    validation_context_sds_secret_config: { name: TRUST_BUNDLE_SECRET, sds_config: SDS_SOURCE },
  };
}

export function durationMs(ms: number): string {
  const s = Math.floor(ms / 1000);
  const rest = ms % 1000;
  return rest === 0 ? `${s}s` : `${s}.${String(rest).padStart(3, '0')}s`;
}

export function socketAddress(host: string, port: number): Record<string, unknown> {
  return { socket_address: { address: host, port_value: port } };
}

/** Stat prefixes may not contain characters Envoy's stat names treat specially. */
export function statPrefix(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}
