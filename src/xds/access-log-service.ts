// The gRPC AccessLogService on meshgate's xDS port. Sidecars that enforce authorization send
// their 403 answers here; those whose response code details say the RBAC filter denied the
// request are counted per service and verified caller identity.
import type { Logger } from 'pino';
import { parseSpiffeId } from '../ca/spiffe.js';
import type { GrpcServer } from './grpc/server.js';
import type { XdsMetrics } from './metrics.js';
import { messageType } from './protos.js';

const MAX_CALLERS = 1000;
const EMPTY = Buffer.alloc(0);

/**
 * StreamAccessLogs is client-streaming: log messages in, one empty StreamAccessLogsResponse
 * when the proxy half-closes. Rare next to xDS traffic, so messages are decoded with protobufjs.
 */
export function addAccessLogService(server: GrpcServer, metrics: XdsMetrics, log: Logger): void {
  const type = messageType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
  const callers = new Set<string>();
  const decode = (buf: Buffer): unknown => {
    try {
      return type.toObject(type.decode(buf), { longs: String, enums: Number, defaults: false, arrays: true, objects: true });
    } catch {
      return null;
    }
  };
  server.addMethod('/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs', {
    decoder: () => decode,
    handler: (call) => {
      let service = '';
      call.on('data', (msg: unknown) => {
        if (!msg || typeof msg !== 'object') return;
        const m = msg as { identifier?: { node?: { cluster?: string } }; http_logs?: { log_entry?: Array<Record<string, unknown>> } };
        if (m.identifier?.node?.cluster) service = m.identifier.node.cluster;
        for (const e of m.http_logs?.log_entry ?? []) {
          const resp = e['response'] as { response_code?: { value?: number }; response_code_details?: string } | undefined;
          if (!resp?.response_code_details?.startsWith('rbac_access_denied')) continue;
          metrics.authzDenials.inc({ service: service || 'unknown', caller: callerOf(e, callers) });
        }
      });
      call.on('end', () => {
        call.writeBuffer(EMPTY); // StreamAccessLogsResponse is empty
        call.end();
      });
    },
  });
  log.debug('access log service registered');
}

/** The peer's SPIFFE ID, strictly parsed; label values are bounded. */
function callerOf(e: Record<string, unknown>, seen: Set<string>): string {
  const common = e['common_properties'] as { tls_properties?: { peer_certificate_properties?: { subject_alt_name?: Array<{ uri?: string }> } } } | undefined;
  const uri = common?.tls_properties?.peer_certificate_properties?.subject_alt_name?.find((s) => s.uri)?.uri;
  if (!uri) return 'unauthenticated';
  try {
    parseSpiffeId(uri);
  } catch {
    return 'invalid';
  }
  if (!seen.has(uri)) {
    if (seen.size >= MAX_CALLERS) return 'other';
    seen.add(uri);
  }
  return uri;
}
