// Pushes, bytes, ACKs and ACK latencies are counted in plain numbers per (type, variant) and
// reach the Prometheus metrics whenever those are read: the exposition shows every count, and
// reading twice does not count twice.
import { describe, expect, it } from 'vitest';
import { XdsMetrics } from '../../src/xds/metrics.js';

function value(text: string, line: string): number {
  const l = text.split('\n').find((x) => x.startsWith(line));
  return l ? Number(l.slice(line.length).trim()) : Number.NaN;
}

describe('xDS metrics', () => {
  it('show what was counted when read, once', async () => {
    const m = new XdsMetrics();
    for (let i = 0; i < 5; i++) m.countPush('CDS', 'sotw', 100);
    m.countPush('EDS', 'delta', 7);
    m.countAck('CDS', 'sotw', 0.002);
    m.countAck('CDS', 'sotw', null);
    m.countAck('EDS', 'delta', 0.3);
    let text = await m.registry.metrics();
    expect(value(text, 'meshgate_xds_pushes_total{type="CDS",variant="sotw"}')).toBe(5);
    expect(value(text, 'meshgate_xds_bytes_sent_total{type="CDS",variant="sotw"}')).toBe(500);
    expect(value(text, 'meshgate_xds_pushes_total{type="EDS",variant="delta"}')).toBe(1);
    expect(value(text, 'meshgate_xds_acks_total{type="CDS",variant="sotw"}')).toBe(2);
    expect(value(text, 'meshgate_xds_snapshot_to_ack_seconds_count{type="CDS",variant="sotw"}')).toBe(1);
    expect(value(text, 'meshgate_xds_snapshot_to_ack_seconds_bucket{le="0.0025",type="CDS",variant="sotw"}')).toBe(1);
    expect(value(text, 'meshgate_xds_snapshot_to_ack_seconds_bucket{le="0.25",type="EDS",variant="delta"}')).toBe(0);
    expect(value(text, 'meshgate_xds_snapshot_to_ack_seconds_bucket{le="0.5",type="EDS",variant="delta"}')).toBe(1);
    text = await m.registry.metrics();
    expect(value(text, 'meshgate_xds_pushes_total{type="CDS",variant="sotw"}')).toBe(5);
    m.countPush('CDS', 'sotw', 1);
    expect(value(await m.registry.metrics(), 'meshgate_xds_pushes_total{type="CDS",variant="sotw"}')).toBe(6);
  });

  it('a long run of ACKs between reads is not held without bound', async () => {
    const m = new XdsMetrics();
    for (let i = 0; i < 10_000; i++) m.countAck('RDS', 'sotw', 0.001);
    const pending = (m as unknown as { tallies: { sotw: Map<string, { latencies: number[] }> } }).tallies.sotw.get('RDS')!.latencies.length;
    expect(pending).toBeLessThan(4096);
    expect(value(await m.registry.metrics(), 'meshgate_xds_snapshot_to_ack_seconds_count{type="RDS",variant="sotw"}')).toBe(10_000);
  });
});
