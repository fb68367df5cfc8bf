// A complete Envoy bootstrap for one proxy: node identity, ADS over gRPC to meshgate (SotW
// or Delta), dynamic LDS/CDS from ADS, and the admin address.
import { MESHGATE_CLUSTER, T } from './common.js';

export interface BootstrapOptions {
  nodeId: string;
  nodeCluster: string;
  xdsHost: string;
  xdsPort: number;
  adminHost: string;
  adminPort: number;
  variant: 'sotw' | 'delta';
  /** Extra node metadata (identity proofs go here). */
  metadata?: Record<string, string>;
  /** Reach meshgate over TLS: pin this CA and require this server identity (URI SAN). */
  xdsTls?: { caPem: string; serverIdentity: string };
}

export function envoyBootstrap(o: BootstrapOptions): Record<string, unknown> {
  // initial_fetch_timeout 0: an Envoy that cannot reach meshgate stays unready (no half
  // configuration goes live after Envoy's default 15 s) until it receives its configuration.
  const ads = { ads: {}, resource_api_version: 'V3', initial_fetch_timeout: '0s' };
  const isIp = /^\d{1,3}(\.\d{1,3}){3}$/.test(o.xdsHost);
  return {
    node: { id: o.nodeId, cluster: o.nodeCluster, ...(o.metadata ? { metadata: o.metadata } : {}) },
    admin: { address: { socket_address: { address: o.adminHost, port_value: o.adminPort } } },
    dynamic_resources: {
      ads_config: {
        api_type: o.variant === 'delta' ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [
          {
            // Reconnect quickly after meshgate restarts (Envoy's default backoff grows to 30 s).
            // Envoy reads the backoff here, not from GrpcService.retry_policy.
            envoy_grpc: { cluster_name: MESHGATE_CLUSTER, retry_policy: { retry_back_off: { base_interval: '0.25s', max_interval: '5s' } } },
          },
        ],
        set_node_on_first_message_only: true,
      },
      cds_config: ads,
      lds_config: ads,
    },
    static_resources: {
      clusters: [
        {
          name: MESHGATE_CLUSTER,
          type: isIp ? 'STATIC' : 'STRICT_DNS',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': T.HTTP_PROTOCOL_OPTIONS,
              explicit_http_config: {
                http2_protocol_options: {
                  // Notice a half-open connection to meshgate and reconnect.
                  connection_keepalive: { interval: '15s', timeout: '5s' },
                },
              },
            },
          },
          ...(o.xdsTls
            ? {
                transport_socket: {
                  name: 'envoy.transport_sockets.tls',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
                    common_tls_context: {
                      alpn_protocols: ['h2'],
                      validation_context: {
                        trusted_ca: { inline_string: o.xdsTls.caPem },
                        match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: o.xdsTls.serverIdentity } }],
                      },
                    },
                  },
                },
              }
            : {}),
          load_assignment: {
            cluster_name: MESHGATE_CLUSTER,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: o.xdsHost, port_value: o.xdsPort } } } }] }],
          },
        },
      ],
    },
    layered_runtime: {
      layers: [{ name: 'static', static_layer: { 'overload.global_downstream_max_connections': 50000 } }],
    },
  };
}
