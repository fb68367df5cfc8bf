// ListenerIR → envoy.config.listener.v3.Listener (HTTP connection manager over RDS, or TCP proxy).
import type { ListenerIR } from '../ir/types.js';
import { ADS_SOURCE, socketAddress, statPrefix, T } from './common.js';

const DIRECTION = { inbound: 'INBOUND', outbound: 'OUTBOUND', gateway: 'INBOUND' } as const;

export function translateListener(l: ListenerIR): Record<string, unknown> {
  let filter: Record<string, unknown>;
  if (l.kind === 'tcp') {
    filter = {
      name: 'envoy.filters.network.tcp_proxy',
      typed_config: { '@type': T.TCP_PROXY, stat_prefix: statPrefix(l.name), cluster: l.upstream },
    };
  } else {
    const hcm: Record<string, unknown> = {
      '@type': T.HCM,
      stat_prefix: statPrefix(l.name),
      codec_type: 'AUTO',
      rds: { route_config_name: l.routeConfigName, config_source: ADS_SOURCE },
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': T.ROUTER } }],
      normalize_path: true,
      merge_slashes: true,
      path_with_escaped_slashes_action: 'UNESCAPE_AND_REDIRECT',
    };
    // Callers address services as "orders" or "orders:80": route by host, ignoring the port.
    if (l.direction !== 'inbound') hcm['strip_any_host_port'] = true;
    if (l.direction === 'gateway') hcm['use_remote_address'] = true;
    filter = { name: 'envoy.filters.network.http_connection_manager', typed_config: hcm };
  }
  return {
    name: l.name,
    address: socketAddress(l.bind.host, l.bind.port),
    traffic_direction: DIRECTION[l.direction],
    filter_chains: [{ filters: [filter] }],
  };
}
