// Messages between the load generator's parent (loadgen.ts) and its worker processes
// (worker.ts). Times are milliseconds on the machine-wide monotonic clock
// (process.hrtime.bigint() / 1e6), comparable across processes.
import type { NodeSpec } from '../lib/wire.js';
import type { TransportKind } from './transport.js';

export const TYPES = [
  'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  'type.googleapis.com/envoy.config.listener.v3.Listener',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
] as const;
export const CDS = 0;
export const EDS = 1;
export const LDS = 2;
export const RDS = 3;
export const SDS = 4;
export const TYPE_NAMES = ['CDS', 'EDS', 'LDS', 'RDS', 'SDS'] as const;

export function typeIndex(url: string): number {
  return (TYPES as readonly string[]).indexOf(url);
}

/** A bit per type index. */
export function typeMask(...idx: number[]): number {
  let m = 0;
  for (const i of idx) m |= 1 << i;
  return m;
}

export const ALL_TYPES = typeMask(CDS, EDS, LDS, RDS, SDS);

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export type Mode = 'sotw' | 'delta';

export interface MarkerSpec {
  /** EDS resource names in change order: change i touches names[i % names.length]. */
  names: string[];
  /** An endpoint port of base + k marks round k of that name. */
  base: number;
  /** Changes below this index happened before this load generator started: not counted. */
  ignoreBelow: number;
}

export type ParentMsg =
  | { cmd: 'init'; worker: number; target: string; mode: Mode; transport: TransportKind; clients: NodeSpec[]; markers: MarkerSpec | null }
  /** Open every stream now (the first request goes out at once). */
  | { cmd: 'connect' }
  /** Start a measurement window: count ACKs and bytes from `since` on. */
  | { cmd: 'window'; since: number }
  /** Answer 'satisfied' once every client has ACKed every type of `mask` in the window (and awaits nothing). mask 0: initial sync. */
  | { cmd: 'await'; id: number; mask: number }
  | { cmd: 'query'; id: number }
  /** Churn changes [from, to) were written to the model at time t. */
  | { cmd: 'writes'; from: number; to: number; t: number }
  /** Close every simulated proxy and forget all state (the worker is reused by the next load generator). */
  | { cmd: 'reset' }
  | { cmd: 'close' };

export interface ClientReport {
  id: string;
  connectAt: number;
  /** Every subscribed type ACKed at least once and nothing awaited: NaN until then. */
  syncedAt: number;
  firstAck: number[];
  acks: number[];
  bytes: number;
  responses: number;
  /** In the current window: last ACK time per type (NaN if none), ACK counts, bytes. */
  winLastAck: number[];
  winAcks: number[];
  winBytes: number;
  /** gRPC status if the stream ended. */
  ended: { code: number; details: string } | null;
}

export interface MarkerReport {
  /** Sparse histogram of staleness: [bucket, count] (histBucket); the last bucket is overflow. */
  hist: Array<[number, number]>;
  count: number;
  max: number;
  sum: number;
  /** Changes observed by a client whose write time was never announced. */
  unresolved: number;
}

export type WorkerMsg =
  | { ev: 'ready'; worker: number }
  | { ev: 'connected'; worker: number; at: number }
  | { ev: 'satisfied'; id: number; worker: number; at: number }
  | { ev: 'report'; id: number; worker: number; clients: ClientReport[]; cpu: { user: number; system: number }; rss: number; markers: MarkerReport | null; lastActivity: number }
  | { ev: 'error'; worker: number; message: string };

/** Staleness histogram: 0.1 ms buckets below 10 s, 10 ms buckets from 10 s to 600 s, then one overflow bucket. */
export const HIST_FINE = 100_000;
export const HIST_BUCKETS = HIST_FINE + 59_000 + 1;

export function histBucket(ms: number): number {
  if (ms < 10_000) return Math.floor(ms * 10);
  return Math.min(HIST_BUCKETS - 1, HIST_FINE + Math.floor((ms - 10_000) / 10));
}

/** Upper edge (ms) of a bucket. */
export function histBucketEdge(b: number): number {
  return b < HIST_FINE ? (b + 1) / 10 : 10_000 + (b - HIST_FINE + 1) * 10;
}
