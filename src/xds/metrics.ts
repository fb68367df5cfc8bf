// Prometheus metrics for the xDS server, on a registry of their own so that several servers
// can live in one process (tests) without clashing.
import client from 'prom-client';

/**
 * Pushes, bytes, ACKs and ACK latencies of one (type, variant), counted in plain numbers and
 * added to the Prometheus metrics when those are read: every response and every ACK of
 * thousands of streams would otherwise hash its label set into prom-client's map (~3 % of the
 * server's CPU under endpoint churn).
 */
class Tally {
  pushes = 0;
  bytes = 0;
  acks = 0;
  latencies: number[] = [];
  constructor(readonly labels: { type: string; variant: string }) {}
}

/** Latencies held before they are added to the histogram anyway. */
const MAX_PENDING_LATENCIES = 4096;

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

  /** Per variant, per type (no key to build per response). */
  private readonly tallies = { sotw: new Map<string, Tally>(), delta: new Map<string, Tally>() };

  /** Snapshots set since the last read (a reload sets thousands). */
  private snapshotsSetCount = 0;

  /** One snapshot set in the cache (counted when the metrics are read). */
  countSnapshotSet(): void {
    this.snapshotsSetCount++;
  }

  /** One response of `bytes` bytes written (type: short name, e.g. CDS). */
  countPush(type: string, variant: 'sotw' | 'delta', bytes: number): void {
    const t = this.tally(type, variant);
    t.pushes++;
    t.bytes += bytes;
  }

  /** One response acknowledged; `latencySeconds`: from its snapshot being set, if it carried one. */
  countAck(type: string, variant: 'sotw' | 'delta', latencySeconds: number | null): void {
    const t = this.tally(type, variant);
    t.acks++;
    if (latencySeconds !== null) {
      t.latencies.push(latencySeconds);
      if (t.latencies.length >= MAX_PENDING_LATENCIES) this.flushLatencies(t);
    }
  }

  private tally(type: string, variant: 'sotw' | 'delta'): Tally {
    const byType = variant === 'sotw' ? this.tallies.sotw : this.tallies.delta;
    let t = byType.get(type);
    if (!t) byType.set(type, (t = new Tally({ type, variant })));
    return t;
  }

  private flushLatencies(t: Tally): void {
    for (const v of t.latencies) this.ackLatency.observe(t.labels, v);
    t.latencies = [];
  }

  /** Add what was counted since the last read to the Prometheus metrics (called when they are read). */
  private flush(): void {
    if (this.snapshotsSetCount) this.snapshotsSet.inc(this.snapshotsSetCount);
    this.snapshotsSetCount = 0;
    for (const t of [...this.tallies.sotw.values(), ...this.tallies.delta.values()]) {
      if (t.pushes) this.pushes.inc(t.labels, t.pushes);
      if (t.bytes) this.bytesSent.inc(t.labels, t.bytes);
      if (t.acks) this.acks.inc(t.labels, t.acks);
      if (t.latencies.length) this.flushLatencies(t);
      t.pushes = t.bytes = t.acks = 0;
    }
  }

  constructor(registry = new client.Registry()) {
    this.registry = registry;
    // prom-client calls a metric's collect() whenever it is read (a scrape, get()).
    const flush = (): void => this.flush();
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
      collect: flush,
    });
    this.acks = new client.Counter({
      name: 'meshgate_xds_acks_total',
      help: 'Responses acknowledged by proxies.',
      labelNames: ['type', 'variant'],
      registers: [registry],
      collect: flush,
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
      collect: flush,
    });
    this.ackLatency = new client.Histogram({
      name: 'meshgate_xds_snapshot_to_ack_seconds',
      help: 'Time from a snapshot being set to the proxy acknowledging the response built from it.',
      labelNames: ['type', 'variant'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
      collect: flush,
    });
    this.snapshotsSet = new client.Counter({
      name: 'meshgate_snapshots_set_total',
      help: 'Snapshots published to the cache (unchanged groups are not counted).',
      registers: [registry],
      collect: flush,
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
