// ListenerIR → envoy.config.listener.v3.Listener: an HTTP connection manager over RDS or a TCP
// proxy; on sidecar inbound listeners, mTLS (strict, or permissive with TLS detected per
// connection), authorization on the verified peer identity, and the caller's identity passed
// to the app in x-forwarded-client-cert (which callers cannot forge: incoming values are
// replaced).
import type { ListenerIR } from '../ir/types.js';
import { httpRbacFilter, networkRbacFilter } from './authz.js';
import { ADS_SOURCE, commonTlsContext, MESHGATE_CLUSTER, socketAddress, statPrefix, T } from './common.js';

/**
 * Where authorization is enforced, 403 answers are reported to meshgate over gRPC access
 * logging, which counts those the RBAC filter caused (meshgate_authz_denials_total).
 */
function authzDenialLog(): Record<string, unknown> {
  return {
    name: 'envoy.access_loggers.http_grpc',
    filter: { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 403, runtime_key: 'meshgate.authz_denial_log.status' } } } },
    typed_config: {
      '@type': T.HTTP_GRPC_ACCESS_LOG,
      common_config: { log_name: 'meshgate-authz', grpc_service: { envoy_grpc: { cluster_name: MESHGATE_CLUSTER } }, transport_api_version: 'V3' },
    },
  };
}

const DIRECTION = { inbound: 'INBOUND', outbound: 'OUTBOUND', gateway: 'INBOUND' } as const;

function downstreamTls(alpn: string[] | null, trustDomain: string): Record<string, unknown> {
  const ctx = commonTlsContext();
  // Accept only mesh identities: a certificate that chains to the trust bundle but names no
  // SPIFFE ID of this trust domain (possible with a broader user-provided root) is refused.
  const sds = ctx['validation_context_sds_secret_config'];
  delete ctx['validation_context_sds_secret_config'];
  ctx['combined_validation_context'] = {
    default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: `spiffe://${trustDomain}/` } }] },
    validation_context_sds_secret_config: sds,
  };
  if (alpn) ctx['alpn_protocols'] = alpn;
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': T.DOWNSTREAM_TLS, common_tls_context: ctx, require_client_certificate: true },
  };
}

function networkFilters(l: ListenerIR): Record<string, unknown>[] {
  const prefix = statPrefix(l.name);
  if (l.kind === 'tcp') {
    const filters: Record<string, unknown>[] = [];
    if (l.authz) filters.push(networkRbacFilter(l.authz, `${prefix}.`));
    filters.push({ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': T.TCP_PROXY, stat_prefix: prefix, cluster: l.upstream } });
    return filters;
  }
  const httpFilters: Record<string, unknown>[] = [];
  // With mTLS the inbound listener always has the RBAC filter (rules come per virtual host
  // from RDS) and reports denials, so changing who may call never changes the listener.
  if (l.tls) httpFilters.push(httpRbacFilter());
  httpFilters.push({ name: 'envoy.filters.http.router', typed_config: { '@type': T.ROUTER } });
  const hcm: Record<string, unknown> = {
    '@type': T.HCM,
    stat_prefix: prefix,
    codec_type: 'AUTO',
    rds: { route_config_name: l.routeConfigName, config_source: ADS_SOURCE },
    http_filters: httpFilters,
    normalize_path: true,
    merge_slashes: true,
    path_with_escaped_slashes_action: 'UNESCAPE_AND_REDIRECT',
  };
  // Callers address services as "orders" or "orders:80": route by host, ignoring the port.
  if (l.direction !== 'inbound') hcm['strip_any_host_port'] = true;
  if (l.direction === 'gateway') hcm['use_remote_address'] = true;
  if (l.tls) hcm['access_log'] = [authzDenialLog()];
  if (l.tls) {
    hcm['forward_client_cert_details'] = 'SANITIZE_SET';
    hcm['set_current_client_cert_details'] = { uri: true };
  }
  return [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }];
}

export function translateListener(l: ListenerIR): Record<string, unknown> {
  const filters = networkFilters(l);
  const listener: Record<string, unknown> = {
    name: l.name,
    address: socketAddress(l.bind.host, l.bind.port),
    traffic_direction: DIRECTION[l.direction],
  };
  const alpn = l.kind === 'http' ? ['h2', 'http/1.1'] : null;
  if (!l.tls) {
    listener['filter_chains'] = [{ filters }];
  } else if (l.tls.mode === 'strict') {
    listener['filter_chains'] = [{ filters, transport_socket: downstreamTls(alpn, l.tls.trustDomain) }];
  } else {
    listener['listener_filters'] = [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': T.TLS_INSPECTOR } }];
    listener['filter_chains'] = [
      { name: 'mtls', filter_chain_match: { transport_protocol: 'tls' }, filters, transport_socket: downstreamTls(alpn, l.tls.trustDomain) },
      { name: 'plaintext', filter_chain_match: { transport_protocol: 'raw_buffer' }, filters },
    ];
  }
  return listener;
}
