// Measurements shared by the scenarios: a connect storm (every stream opens at once, until
// every proxy has ACKed every type) and a change fan-out (a model change, until every
// proxy has ACKed the types it changes).
import { LoadGen, type LoadGenReport } from '../loadgen/loadgen.js';
import { type MarkerSpec, type Mode, nowMs, TYPE_NAMES } from '../loadgen/protocol.js';
import type { RunContext } from '../lib/harness.js';
import { type ServerHandle, tcpCounters } from '../lib/servers.js';
import { max, percentile, sleep, sum } from '../lib/stats.js';
import type { NodeSpec } from '../lib/wire.js';

export interface StormResult {
  lg: LoadGen;
  /** The storm's window on the monotonic clock (ms). */
  t0: number;
  tEnd: number;
  clients: number;
  /** Proxies that synced (every type ACKed). */
  synced: number;
  /** T0 → last proxy synced (ms); NaN if some never did. */
  allMs: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMs: number;
  /** Load generator CPU over the storm, as a share of one core (%). */
  loadgenCpuPct: number;
  memBefore: number;
  memAfter: number;
  memPeak: number;
  bytes: number;
  ended: number;
  errors: string[];
  /** Machine-wide TCP listen queue overflows and SYN retransmits during the storm. */
  listenOverflows: number;
  synRetrans: number;
}

/** Start N simulated proxies against `server` and open every stream at once. The load generator stays open. */
export async function connectStorm(ctx: RunContext, server: ServerHandle, clients: NodeSpec[], mode: Mode, timeoutMs: number, markers: MarkerSpec | null = null): Promise<StormResult> {
  await settle(server, settleStep(ctx));
  const memBefore = server.memory().rss;
  const lg = await LoadGen.start({ target: server.target, mode, clients, workers: ctx.workers, markers });
  const before = await lg.query();
  const tcp0 = tcpCounters();
  const cpu0 = server.cpuMs();
  const t0 = await lg.connect();
  let tAll = Number.NaN;
  try {
    tAll = await lg.awaitAll(0, timeoutMs);
  } catch (err) {
    ctx.log(`  ! ${(err as Error).message}`);
  }
  const tEnd = Number.isNaN(tAll) ? nowMs() : tAll;
  const cpu1 = server.cpuMs();
  const tcp1 = tcpCounters();
  const r = await lg.query();
  await sleep(ctx.smoke ? 200 : 1000);
  const mem = server.memory();
  const synced = r.clients.filter((c) => Number.isFinite(c.syncedAt));
  const lat = synced.map((c) => c.syncedAt - t0);
  return {
    lg,
    t0,
    tEnd,
    clients: clients.length,
    synced: synced.length,
    allMs: synced.length === clients.length ? tAll - t0 : Number.NaN,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    serverCpuMs: cpu1 - cpu0,
    loadgenCpuPct: ((r.cpuMicros - before.cpuMicros) / 1000 / Math.max(1, tEnd - t0)) * 100,
    memBefore,
    memAfter: mem.rss,
    memPeak: mem.peak,
    bytes: sum(r.clients.map((c) => c.bytes)),
    ended: r.clients.filter((c) => c.ended !== null).length,
    errors: [...lg.errorMessages],
    listenOverflows: tcp1.listenOverflows - tcp0.listenOverflows,
    synRetrans: tcp1.synRetrans - tcp0.synRetrans,
  };
}

export interface ChangeResult {
  /** The change's window on the monotonic clock (ms): T0 to the last response. */
  t0: number;
  tEnd: number;
  /** Proxies that ACKed every type of the mask after the change. */
  reached: number;
  clients: number;
  /** Per proxy: last ACK in the window − T0 (ms). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Bytes received by all proxies in the window. */
  bytes: number;
  bytesPerProxy: number;
  responses: number;
  serverCpuMs: number;
  loadgenCpuPct: number;
  /** ACKs per type in the window, summed over proxies. */
  acksByType: Record<string, number>;
}

/**
 * Wait until the server is idle: its CPU time grows by less than 1/30 of the interval over
 * `stepMs` (600 ms: 20 ms of CPU), or `maxMs` passed. A change measured while the server still
 * works on the previous one (a reload, a trailing no-op reload) would measure both.
 */
export async function settle(server: ServerHandle, stepMs = 600, maxMs = 120_000): Promise<number> {
  const t0 = nowMs();
  let prev = server.cpuMs();
  for (;;) {
    await sleep(stepMs);
    const cur = server.cpuMs();
    // /proc CPU times tick at 10 ms: a smaller step needs at least one tick of slack.
    if (cur - prev <= Math.max(10, stepMs / 30) || nowMs() - t0 > maxMs) return nowMs() - t0;
    prev = cur;
  }
}

/** The settle step for a run: short at smoke sizes. */
export function settleStep(ctx: RunContext): number {
  return ctx.smoke ? 150 : 600;
}

/**
 * Open a window, apply a change (which returns its T0: the model file rename, or the peer's
 * load call), wait until every proxy has ACKed every type in `mask`, then until nothing
 * arrives for `quietMs` (trailing pushes: make-before-break clean-ups), and measure.
 */
export async function measureChange(ctx: RunContext, lg: LoadGen, server: ServerHandle, mask: number, apply: () => Promise<number> | number, timeoutMs: number, quietMs = 300): Promise<ChangeResult> {
  await settle(server, settleStep(ctx));
  const before = await lg.query();
  // The window begins 20 ms ahead (time for the command to reach every worker) and the
  // change is applied only after it has begun: a response that arrived before the change
  // (a late push, or a push on its way) is not counted as the change's, nor satisfies the await.
  const since = lg.window(nowMs() + 20);
  while (nowMs() < since) await sleep(Math.max(1, since - nowMs()));
  const cpu0 = server.cpuMs();
  const t0 = await apply();
  try {
    await lg.awaitAll(mask, timeoutMs);
  } catch (err) {
    ctx.log(`  ! ${(err as Error).message}`);
  }
  const r: LoadGenReport = await lg.quiet(quietMs, timeoutMs);
  const cpu1 = server.cpuMs();
  const reached = r.clients.filter((c) => {
    for (let t = 0; t < 5; t++) if (mask & (1 << t) && c.winAcks[t] === 0) return false;
    return true;
  });
  const lastAck = reached.map((c) => max(c.winLastAck) - t0);
  const acksByType: Record<string, number> = {};
  TYPE_NAMES.forEach((n, t) => {
    acksByType[n] = sum(r.clients.map((c) => c.winAcks[t]!));
  });
  const early = sum(r.clients.map((c) => c.responses)) - sum(before.clients.map((c) => c.responses)) - sum(Object.values(acksByType));
  if (early > 0) ctx.log(`  ! ${early} responses arrived after the server settled but before the change; not counted`);
  const bytes = sum(r.clients.map((c) => c.winBytes));
  const wall = Math.max(1, r.lastActivity - t0);
  return {
    t0,
    tEnd: r.lastActivity,
    reached: reached.length,
    clients: r.clients.length,
    p50Ms: percentile(lastAck, 50),
    p99Ms: percentile(lastAck, 99),
    maxMs: max(lastAck),
    bytes,
    bytesPerProxy: bytes / Math.max(1, r.clients.length),
    responses: sum(Object.values(acksByType)),
    serverCpuMs: cpu1 - cpu0,
    loadgenCpuPct: ((r.cpuMicros - before.cpuMicros) / 1000 / wall) * 100,
    acksByType,
  };
}
