// Prometheus metrics for the xDS server, on a registry of their own so that several servers
// can live in one process (tests) without clashing.
import client from 'prom-client';

export class XdsMetrics {
  readonly registry: client.Registry;
  readonly streams: client.Gauge<'service' | 'variant'>;
  readonly pushes: client.Counter<'type' | 'variant'>;
  readonly acks: client.Counter<'type' | 'variant'>;
  readonly nacks: client.Counter<'type' | 'variant'>;
  readonly bytesSent: client.Counter<'type' | 'variant'>;
  readonly ackLatency: client.Histogram<'type' | 'variant'>;
  readonly snapshotsSet: client.Counter;
  readonly streamErrors: client.Counter<'reason'>;
  readonly authzDenials: client.Counter<'service' | 'caller'>;

  constructor(registry = new client.Registry()) {
    this.registry = registry;
    this.streams = new client.Gauge({
      name: 'meshgate_xds_streams',
      help: 'Open xDS streams by service (ads, lds, rds, cds, eds, sds) and variant (sotw, delta).',
      labelNames: ['service', 'variant'],
      registers: [registry],
    });
    this.pushes = new client.Counter({
      name: 'meshgate_xds_pushes_total',
      help: 'Discovery responses sent, by resource type and variant.',
      labelNames: ['type', 'variant'],
      registers: [registry],
    });
    this.acks = new client.Counter({
      name: 'meshgate_xds_acks_total',
      help: 'Responses acknowledged by proxies.',
      labelNames: ['type', 'variant'],
      registers: [registry],
    });
    this.nacks = new client.Counter({
      name: 'meshgate_xds_nacks_total',
      help: 'Responses rejected by proxies (request with error_detail).',
      labelNames: ['type', 'variant'],
      registers: [registry],
    });
    this.bytesSent = new client.Counter({
      name: 'meshgate_xds_bytes_sent_total',
      help: 'Bytes of discovery responses written to streams.',
      labelNames: ['type', 'variant'],
      registers: [registry],
    });
    this.ackLatency = new client.Histogram({
      name: 'meshgate_xds_snapshot_to_ack_seconds',
      help: 'Time from a snapshot being set to the proxy acknowledging the response built from it.',
      labelNames: ['type', 'variant'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.snapshotsSet = new client.Counter({
      name: 'meshgate_snapshots_set_total',
      help: 'Snapshots published to the cache (unchanged groups are not counted).',
      registers: [registry],
    });
    this.authzDenials = new client.Counter({
      name: 'meshgate_authz_denials_total',
      help: 'Requests a sidecar refused (403) because the verified caller is not allowed, reported by the sidecars over gRPC access logging.',
      labelNames: ['service', 'caller'],
      registers: [registry],
    });
    this.streamErrors = new client.Counter({
      name: 'meshgate_xds_stream_errors_total',
      help: 'Streams ended by the server, by reason (bad_request, too_large, stalled, …).',
      labelNames: ['reason'],
      registers: [registry],
    });
  }
}
