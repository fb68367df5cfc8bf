// S7 soak (PERFORMANCE.md): meshgate serving 2000 simulated sidecars for 30 minutes while the
// model changes: 1 route change/s and 100 endpoint changes/s, every change a rewrite of the
// model file (temp file renamed over it, as S4 does; the changes due are batched every 20 ms).
// Not part of `npm run bench`:
//
//   npm run bench:soak [-- --minutes 30] [--clients 2000] [--sotw | --delta] [--smoke]
//        [--sample-seconds 10] [--endpoint-rate 100] [--route-rate 1] [--no-pin] [--profile] [--workers 4] [--out FILE]
//
// The mesh is S2's (50 services × 40 instances: 2000 sidecars, each holding 51 clusters, 50
// assignments × 10 endpoints, 2 listeners, 2 route configurations, 2 secrets), served to the
// load generator's simulated Envoys (bench/loadgen/, one HTTP/2 connection + one ADS stream each).
//
// Changes:
//   endpoint change i  moves instance 0 of service s(i mod S) (a shard-0 instance, so an endpoint
//                      of the assignment every sidecar holds) to port 20000 + ⌊i / S⌋;
//   route change k     sets the timeout of service s0's route to (1000 + k) ms (RDS "outbound"
//                      changes for every sidecar).
//
// Measured, every --sample-seconds: meshgate's RSS (/proc/PID/status) and V8 heap
// (meshgate_nodejs_heap_size_used_bytes from its /metrics); event-loop delay from prom-client's
// default metrics (see EVENT_LOOP below); meshgate's CPU; open streams; reloads; staleness.
// RSS is also read every second for the drift figures.
//
//   memory drift     warm-up W = min(5 min, run / 3), window L = min(5 min, (run − W) / 2):
//                    (mean over the last L − mean over [W, W + L)) / mean over [W, W + L).
//                    30 minutes: minutes 25–30 against minutes 5–10. Also the least-squares slope
//                    after warm-up (MiB/min).
//   staleness        endpoint changes: change written (rename) → each client ACKs an assignment
//                    with that port or a later one, over every (change, client), exactly S4's
//                    figure (load generator markers). Route changes: → one extra RDS client (the
//                    route observer, bench/lib/route-observer.ts) holds that timeout or a later one.
//   connected        every client's stream still open at the end (none ended by the server; the
//                    load generator never reconnects), and meshgate's meshgate_xds_streams gauge.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LATENESS_BUCKETS_S } from '../../src/app/loop-lateness.js';
import { buildMeshIR } from '../../src/ir/build.js';
import { loadModel } from '../export.js';
import { metric, type Metric, type RunContext, type ScenarioResult, launchMeshgate, nodeSpecs, prepareModel, writeModel } from '../lib/harness.js';
import { CumulativeHist, drift, driftWindows, gitCommit, type LongRunResults, machineInfo, type Point, writeResults } from '../lib/long-run.js';
import { RouteObserver } from '../lib/route-observer.js';
import { canPin, httpGet, type MeshgateHandle, pinSelf, REPO } from '../lib/servers.js';
import { max, median, percentile, round, sleep } from '../lib/stats.js';
import { histPercentile, LoadGen } from '../loadgen/loadgen.js';
import { type MarkerSpec, type Mode, nowMs } from '../loadgen/protocol.js';
import { editRouteTimeout, S2_MESH, setInstancePort, type SidecarMeshSpec, sidecarMesh, SMOKE_S2_MESH } from '../models.js';
import { connectStorm, settle } from './common.js';
import { formatScenario } from '../run.js';

const BASE_PORT = 20_000;
const ROUTE_TIMEOUT_BASE_MS = 1000;
const TICK_MS = 20;
const PROBE_MS = 250;

/**
 * How event-loop delay is read. prom-client's default metrics (registered by meshgate with the
 * prefix meshgate_) include meshgate_nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds,
 * read from a perf_hooks.monitorEventLoopDelay histogram (10 ms resolution) that prom-client
 * resets after every collection: each value covers exactly the time since the previous scrape,
 * and this runner is the only scraper. So each sample's p99 is that interval's p99.
 */
const EVENT_LOOP = [
  'event-loop delay: meshgate_nodejs_eventloop_lag_p99_seconds / _max_seconds / _p50_seconds (prom-client default metrics over perf_hooks.monitorEventLoopDelay, 10 ms resolution); prom-client resets the histogram after each /metrics collection, so each sample is the p99 of the interval since the previous scrape (this runner is the only scraper)',
  'the histogram records the interval between 10 ms timer ticks, so an idle loop reads ~10–11 ms (the resolution is included), and it is sample-weighted: one 5 s block is one sample among the interval\'s ~10 ms ticks, so it moves the max but can hide below the p99; the admin probe (GET /healthz every 250 ms, its latency) samples by time instead',
  'reported p99: the highest interval p99 after warm-up (if every interval is below 20 ms, so is the whole run: an upper bound of the run\'s p99) and the median interval p99',
  'the delay compared with the target is the timer\'s lateness, the histogram\'s value less its 10 ms interval (an idle loop: ~0–1 ms), as event-loop monitors report it; the histogram\'s own values are shown beside it',
];

/** monitorEventLoopDelay's timer interval (prom-client's default): what an idle loop's histogram reads. */
const EL_RESOLUTION_MS = 10;

export interface SoakOptions {
  seconds: number;
  clients: number;
  smoke: boolean;
  mode: Mode;
  sampleSeconds: number;
  endpointRate: number;
  routeRate: number;
  pin: boolean;
  /** meshgate with node --cpu-prof (bench/out/work-soak/profiles/s7). */
  profile?: boolean;
  workers: number;
  workDir: string;
  log: (m: string) => void;
}

export function soakDefaults(smoke: boolean): SoakOptions {
  return {
    seconds: smoke ? 20 : 30 * 60,
    clients: smoke ? 20 : 2000,
    smoke,
    mode: 'delta',
    sampleSeconds: smoke ? 1 : 10,
    endpointRate: 100,
    routeRate: 1,
    pin: true,
    workers: smoke ? 2 : 4,
    workDir: path.join(REPO, 'bench', 'out', smoke ? 'work-soak-smoke' : 'work-soak'),
    log: (m) => process.stdout.write(`${m}\n`),
  };
}

/** The S2 mesh for 2000 clients (smoke: 20); otherwise 50 services × ⌈N / 50⌉ instances. */
export function soakMesh(clients: number, smoke: boolean): SidecarMeshSpec {
  if (clients === S2_MESH.services * S2_MESH.instancesPerService) return S2_MESH;
  if (smoke && clients === SMOKE_S2_MESH.services * SMOKE_S2_MESH.instancesPerService) return SMOKE_S2_MESH;
  const services = clients >= 200 ? 50 : Math.max(2, Math.floor(clients / 4));
  const instancesPerService = Math.max(2, Math.ceil(clients / services));
  return { name: `S7-mesh-${services}x${instancesPerService}`, services, instancesPerService, shards: Math.min(4, instancesPerService) };
}

interface Sample {
  /** Seconds since the start of the changes (end of the interval). */
  t: number;
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** Event-loop delay of the interval (prom-client, ms). */
  elP50Ms: number;
  elP99Ms: number;
  elMaxMs: number;
  /** meshgate_event_loop_lateness_seconds: cumulative bucket counts (LATENESS_BUCKETS_S, then +Inf) since meshgate started. */
  lateness: number[];
  /** GET /healthz latency in the interval (ms). */
  probeP99Ms: number;
  probeMaxMs: number;
  probes: number;
  cpuPct: number;
  streams: number;
  reloadsApplied: number;
  endpointChangesWritten: number;
  routeChangesWritten: number;
  /** Endpoint staleness observations recorded in the interval. */
  delivered: number;
  stalenessP50Ms: number;
  stalenessP99Ms: number;
}

export async function runSoak(o: SoakOptions): Promise<LongRunResults> {
  const log = o.log;
  const pin = o.pin && os.cpus().length >= 2 && canPin();
  if (pin) pinSelf('1');
  fs.rmSync(o.workDir, { recursive: true, force: true });
  fs.mkdirSync(o.workDir, { recursive: true });
  const ctx: RunContext = { smoke: o.smoke, workDir: o.workDir, pin, peer: false, profile: o.profile === true, churnSeconds: o.seconds, churnRates: [o.endpointRate], workers: o.workers, log };
  const spec = soakMesh(o.clients, o.smoke);
  const doc = sidecarMesh(spec);
  const m = prepareModel(ctx, 's7', doc);
  const plans = doc.proxies();
  const clients = nodeSpecs(plans, m.tokens);
  const services = [...doc.services.keys()];
  // EDS names in change order: the shard-0 subset of each service (what every sidecar holds).
  const sidecar = buildMeshIR(loadModel(doc.text())).proxies.find((p) => p.kind === 'sidecar')!;
  const names = services.map((s) => {
    const u = sidecar.upstreams.find((x) => x.service === s && !x.local && x.subset?.some(([k, v]) => k === 'shard' && v === '0'));
    if (!u) throw new Error(`no shard-0 upstream of ${s} in ${sidecar.group}`);
    return u.key;
  });
  const routeSvc = services[0]!;
  const observerPlan = plans.find((p) => p.nodeId === `${services[1]}-1`) ?? plans[plans.length - 1]!;
  const startedAt = new Date().toISOString();
  const commit = gitCommit(); // at the start: a soak outlives other commits
  log(`S7 soak: ${clients.length} sidecars (${spec.services} services × ${spec.instancesPerService}), ${o.mode}, ${(o.seconds / 60).toFixed(1)} min, ${o.endpointRate} endpoint changes/s + ${o.routeRate} route changes/s; servers on core 0, runner and load generator on core 1${pin ? '' : ' (not pinned)'}`);

  const t0Start = nowMs();
  const mg = await launchMeshgate(ctx, m, 's7');
  const startupMs = nowMs() - t0Start;
  log(`  meshgate ready in ${startupMs.toFixed(0)} ms`);
  let lg: LoadGen | null = null;
  let observer: RouteObserver | null = null;
  try {
    const markers: MarkerSpec = { names, base: BASE_PORT, ignoreBelow: 0 };
    const storm = await connectStorm(ctx, mg, clients, o.mode, o.smoke ? 60_000 : 300_000, markers);
    lg = storm.lg;
    log(`  ${storm.synced}/${clients.length} clients synced in ${storm.allMs.toFixed(0)} ms`);
    observer = new RouteObserver({ target: mg.target, node: { id: observerPlan.nodeId, cluster: observerPlan.cluster }, routeConfig: 'outbound', virtualHost: routeSvc, route: 'default', base: ROUTE_TIMEOUT_BASE_MS });
    await observer.start();
    await settle(mg, o.smoke ? 150 : 600);
    return await soak(o, ctx, { mg, lg, observer, doc, file: m.file, services, names, routeSvc, storm: { synced: storm.synced, allMs: storm.allMs }, startupMs, startedAt, commit, spec, pin, observerNode: observerPlan.nodeId });
  } finally {
    await observer?.stop();
    await lg?.close();
    await mg.stop();
  }
}

interface SoakState {
  mg: MeshgateHandle;
  lg: LoadGen;
  observer: RouteObserver;
  doc: ReturnType<typeof sidecarMesh>;
  file: string;
  services: string[];
  names: string[];
  routeSvc: string;
  storm: { synced: number; allMs: number };
  startupMs: number;
  startedAt: string;
  commit: LongRunResults['commit'];
  spec: SidecarMeshSpec;
  pin: boolean;
  observerNode: string;
}

async function soak(o: SoakOptions, ctx: RunContext, s: SoakState): Promise<LongRunResults> {
  const { mg, lg, observer, doc, log } = { ...s, log: o.log };
  const nClients = (await lg.query()).clients.length;
  const S = s.services.length;
  const samples: Sample[] = [];
  const rssPoints: Point[] = [];
  const heapPoints: Point[] = [];
  const probeAll: number[] = [];
  let probeInterval: number[] = [];
  let running = true;
  let epNext = 0;
  let rtNext = 0;
  let writes = 0;
  let writeMsMax = 0;

  await mg.metrics(); // resets prom-client's event-loop histogram: the first interval starts now
  const metrics0 = await mg.metrics();
  const reloads0 = metrics0['meshgate_config_reloads_total{result="applied"}'] ?? 0;
  const unchanged0 = metrics0['meshgate_config_reloads_total{result="unchanged"}'] ?? 0;
  const rejected0 = metrics0['meshgate_config_reloads_total{result="rejected"}'] ?? 0;
  const lg0 = await lg.query();
  const cpu0 = mg.cpuMs();
  const t0 = nowMs();
  const el = (): number => (nowMs() - t0) / 1000;

  // RSS every second (for the drift figures).
  const rssTimer = setInterval(() => rssPoints.push({ t: el(), v: mg.memory().rss }), 1000);
  // Admin probe: GET /healthz every PROBE_MS; its latency samples meshgate's event loop by time.
  const probe = (async () => {
    while (running) {
      const a = nowMs();
      try {
        await httpGet(mg.adminPort, '/healthz', 'GET', 60_000);
        const d = nowMs() - a;
        probeInterval.push(d);
        probeAll.push(d);
      } catch {
        /* counted as missing */
      }
      await sleep(Math.max(1, PROBE_MS - (nowMs() - a)));
    }
  })();
  // Samples.
  let prevHist = CumulativeHist.of(lg0.markers);
  let prevCpu = cpu0;
  let prevT = 0;
  const sampler = (async () => {
    let next = o.sampleSeconds;
    while (running) {
      await sleep(Math.max(1, (next - el()) * 1000));
      if (!running) break;
      next += o.sampleSeconds;
      const mem = mg.memory();
      let mx: Record<string, number> = {};
      try {
        mx = await mg.metrics();
      } catch (err) {
        log(`  ! /metrics: ${(err as Error).message}`);
      }
      const q = await lg.query(120_000);
      const t = el();
      const cpu = mg.cpuMs();
      const hist = CumulativeHist.of(q.markers);
      const iv = hist.since(prevHist);
      prevHist = hist;
      const probes = probeInterval;
      probeInterval = [];
      const sample: Sample = {
        t: round(t, 2),
        rssBytes: mem.rss,
        heapUsedBytes: mx['meshgate_nodejs_heap_size_used_bytes'] ?? Number.NaN,
        heapTotalBytes: mx['meshgate_nodejs_heap_size_total_bytes'] ?? Number.NaN,
        externalBytes: mx['meshgate_nodejs_external_memory_bytes'] ?? Number.NaN,
        elP50Ms: (mx['meshgate_nodejs_eventloop_lag_p50_seconds'] ?? Number.NaN) * 1000,
        elP99Ms: (mx['meshgate_nodejs_eventloop_lag_p99_seconds'] ?? Number.NaN) * 1000,
        elMaxMs: (mx['meshgate_nodejs_eventloop_lag_max_seconds'] ?? Number.NaN) * 1000,
        lateness: latenessBuckets(mx),
        probeP99Ms: percentile(probes, 99),
        probeMaxMs: max(probes),
        probes: probes.length,
        cpuPct: ((cpu - prevCpu) / ((t - prevT) * 1000)) * 100,
        streams: mx['meshgate_xds_streams:sum'] ?? Number.NaN,
        reloadsApplied: (mx['meshgate_config_reloads_total{result="applied"}'] ?? Number.NaN) - reloads0,
        endpointChangesWritten: epNext,
        routeChangesWritten: rtNext,
        delivered: iv.count,
        stalenessP50Ms: histPercentile(iv, 50),
        stalenessP99Ms: histPercentile(iv, 99),
      };
      prevCpu = cpu;
      prevT = t;
      samples.push(sample);
      heapPoints.push({ t, v: sample.heapUsedBytes });
      log(
        `  ${fmtClock(t)}  RSS ${mib(sample.rssBytes)}  heap ${mib(sample.heapUsedBytes)}  loop p99 ${sample.elP99Ms.toFixed(1)} ms (max ${sample.elMaxMs.toFixed(0)})  probe p99 ${sample.probeP99Ms.toFixed(1)} ms  CPU ${sample.cpuPct.toFixed(0)} %  streams ${sample.streams}  reloads ${sample.reloadsApplied}  staleness p50/p99 ${sample.stalenessP50Ms.toFixed(0)}/${sample.stalenessP99Ms.toFixed(0)} ms (${sample.delivered})`,
      );
    }
  })();

  // The changes: every TICK_MS, apply those due and rewrite the model once.
  while (el() < o.seconds) {
    const tick = nowMs();
    const e = el();
    const epDue = Math.floor(e * o.endpointRate);
    const rtDue = Math.floor(e * o.routeRate);
    if (epDue > epNext || rtDue > rtNext) {
      for (let i = epNext; i < epDue; i++) setInstancePort(doc, s.services[i % S]!, 0, BASE_PORT + Math.floor(i / S));
      for (let k = rtNext; k < rtDue; k++) editRouteTimeout(doc, s.routeSvc, observer.timeoutOf(k));
      const t = writeModel(s.file, doc.text());
      writeMsMax = Math.max(writeMsMax, t - tick);
      if (epDue > epNext) lg.writes(epNext, epDue, t);
      for (let k = rtNext; k < rtDue; k++) observer.written(k, t);
      epNext = Math.max(epNext, epDue);
      rtNext = Math.max(rtNext, rtDue);
      writes++;
    }
    await sleep(Math.max(1, TICK_MS - (nowMs() - tick)));
  }
  const wall = el();
  running = false;
  clearInterval(rssTimer);
  await sampler;
  await probe;
  const cpuEnd = mg.cpuMs();
  log(`  changes stopped after ${fmtClock(wall)}: ${epNext} endpoint and ${rtNext} route changes in ${writes} writes; waiting for every client to hold them`);

  // Drain: every endpoint change reaches every client, the observer holds the last route change.
  const expected = epNext * nClients;
  const drainStart = nowMs();
  const deadline = drainStart + (o.smoke ? 30_000 : 300_000);
  let q = await lg.query(120_000);
  while (((q.markers?.count ?? 0) - (lg0.markers?.count ?? 0) < expected || observer.heldChange < rtNext - 1) && nowMs() < deadline) {
    await sleep(500);
    q = await lg.query(120_000);
  }
  const drainMs = nowMs() - drainStart;
  const mEnd = await mg.metrics().catch(() => ({}) as Record<string, number>);
  const rep = observer.report();
  const whole = CumulativeHist.of(q.markers).since(CumulativeHist.of(lg0.markers));
  const ended = q.clients.filter((c) => c.ended !== null);
  const reloadLog = mg.reloads().map((r) => r.ms);

  // Figures.
  const w = driftWindows(wall);
  const rssDrift = drift(rssPoints, wall);
  const heapDrift = drift(heapPoints, wall);
  const after = samples.filter((x) => x.t > w.warmup);
  const elP99s = after.map((x) => x.elP99Ms);
  // The lateness histogram over the whole run after warm-up: the last scrape before it ends to the final one.
  const atWarmup = [...samples].reverse().find((x) => x.t <= w.warmup) ?? samples[0];
  const wholeLateness = atWarmup ? bucketPercentile(latenessBuckets(mEnd), atWarmup.lateness, 99) : { ms: Number.NaN, count: 0, bucket: '' };
  // A counter appears once it is first incremented; NaN only if the last scrape failed.
  const counter = (result: string): number => mEnd[`meshgate_config_reloads_total{result="${result}"}`] ?? (Object.keys(mEnd).length ? 0 : Number.NaN);
  const reloadsApplied = counter('applied') - reloads0;
  const reloadsUnchanged = counter('unchanged') - unchanged0;
  const reloadsRejected = counter('rejected') - rejected0;
  const streamsMin = Math.min(...samples.map((x) => x.streams).filter(Number.isFinite));
  const target = (op: '<=' | '>=', value: number): { target?: { op: '<=' | '>='; value: number } } => (o.smoke ? {} : { target: { op, value } });
  const metrics: Metric[] = [
    metric('meshgate startup to ready', 'ms', s.startupMs),
    metric(`connect storm: all ${nClients} synced`, 'ms', s.storm.allMs, { note: `${s.storm.synced} synced` }),
    metric('RSS, reference window (mean)', 'bytes', rssDrift.reference, { note: `${fmtClock(w.reference[0])}–${fmtClock(w.reference[1])}` }),
    metric('RSS, final window (mean)', 'bytes', rssDrift.final, { note: `${fmtClock(w.final[0])}–${fmtClock(wall)}` }),
    metric('RSS drift after warm-up', '%', rssDrift.driftPct, { ...target('<=', 5), note: `${rssDrift.driftPct.toFixed(2)} %` }),
    metric('RSS slope after warm-up, per minute', 'bytes', rssDrift.slopePerMinute),
    metric('RSS max (1 s samples)', 'bytes', max(rssPoints.map((p) => p.v))),
    metric('V8 heap used, reference window (mean)', 'bytes', heapDrift.reference),
    metric('V8 heap used, final window (mean)', 'bytes', heapDrift.final),
    metric('V8 heap used drift after warm-up', '%', heapDrift.driftPct, { note: `${heapDrift.driftPct.toFixed(2)} %` }),
    // The delay is how late a 10 ms timer ran: meshgate's own cumulative histogram over the whole
    // run after warm-up; per interval, prom-client's histogram's value less its interval.
    metric('event-loop delay p99 over the run after warm-up (meshgate_event_loop_lateness_seconds)', 'ms', wholeLateness.ms, { ...target('<=', 20), note: `${wholeLateness.count} ticks; p99 in the bucket ${wholeLateness.bucket} ms (linear within it)` }),
    metric('event-loop delay p99: timer lateness (prom-client histogram p99 − 10 ms), highest interval after warm-up', 'ms', max(elP99s) - EL_RESOLUTION_MS, { note: `${after.length} intervals of ${o.sampleSeconds} s` }),
    metric('event-loop delay p99: timer lateness, median interval', 'ms', median(elP99s) - EL_RESOLUTION_MS),
    metric('event-loop histogram p99 as read (interval included), highest / median interval', 'ms', max(elP99s), { note: `median ${median(elP99s).toFixed(1)} ms` }),
    metric('event-loop histogram max (whole run, interval included)', 'ms', max(samples.map((x) => x.elMaxMs))),
    metric('admin probe latency p99 (GET /healthz every 250 ms)', 'ms', percentile(probeAll, 99), { note: `p50 ${percentile(probeAll, 50).toFixed(1)} ms, max ${max(probeAll).toFixed(0)} ms, ${probeAll.length} probes` }),
    metric('endpoint change staleness p50', 'ms', histPercentile(whole, 50)),
    metric('endpoint change staleness p99', 'ms', histPercentile(whole, 99)),
    metric('endpoint change staleness max', 'ms', whole.max),
    metric('endpoint changes delivered (change × client)', 'count', whole.count, { note: `of ${expected}` }),
    metric('route change staleness p50 (observer)', 'ms', percentile(rep.stalenessMs, 50)),
    metric('route change staleness p99 (observer)', 'ms', percentile(rep.stalenessMs, 99)),
    metric('route changes held by the observer', 'count', rep.observed, { note: `of ${rtNext}` }),
    metric('reloads applied', 'count', reloadsApplied, { note: `${reloadsUnchanged} unchanged, ${reloadsRejected} rejected; ${writes} writes` }),
    metric('reload duration median', 'ms', median(reloadLog), { note: `max ${max(reloadLog).toFixed(0)} ms` }),
    metric('meshgate CPU (share of its core)', '%', ((cpuEnd - cpu0) / (wall * 1000)) * 100),
    metric('load generator CPU', '%', ((q.cpuMicros - lg0.cpuMicros) / 1000 / (wall * 1000 + drainMs)) * 100),
    metric('clients still connected at the end', 'count', nClients - ended.length, { note: `of ${nClients}; meshgate_xds_streams at the end ${mEnd['meshgate_xds_streams:sum'] ?? '?'}, lowest sampled ${streamsMin} (the gauge counts the route observer too)` }),
  ];
  const notes = [
    `model: ${s.spec.services} services × ${s.spec.instancesPerService} instances = ${nClients} sidecars (S2 mesh shape), mTLS strict; ${o.mode}; every client connected once at the start (connect storm) and stays connected`,
    `changes: endpoint change i moves instance 0 of s(i mod ${s.services.length}) to port ${BASE_PORT} + ⌊i / ${s.services.length}⌋; route change k sets the timeout of ${s.routeSvc}'s route to ${ROUTE_TIMEOUT_BASE_MS} + k ms; the model file is rewritten (temp + rename) every ${TICK_MS} ms with the changes due (${writes} writes, slowest ${writeMsMax.toFixed(0)} ms)`,
    `memory drift: warm-up ${fmtClock(w.warmup)}; (mean over ${fmtClock(w.final[0])}–${fmtClock(wall)} − mean over ${fmtClock(w.reference[0])}–${fmtClock(w.reference[1])}) / the latter; RSS from /proc every second, V8 heap from /metrics every ${o.sampleSeconds} s`,
    ...EVENT_LOOP,
    `endpoint staleness: change written (rename) → each client ACKs an assignment with that port or a later one, over every (change, client) after the storm (S4's markers); the per-interval figures are differences of the load generator's cumulative histograms`,
    `route staleness: one extra SotW RDS client (node ${s.observerNode}, grpc-js, in the runner process on core 1) watching route configuration "outbound"; the rename → the response holding that timeout or a later one; it is one client, not every client`,
    `after the last change: ${(drainMs / 1000).toFixed(1)} s until every change had reached every client${whole.count < expected ? ` (gave up: ${whole.count} of ${expected})` : ''}`,
    ...(ended.length ? [`${ended.length} streams ended: ${[...new Set(ended.map((c) => `${c.ended!.code} ${c.ended!.details}`))].slice(0, 3).join('; ')}`] : []),
    ...(lg.errorMessages.length ? [`load generator errors: ${lg.errorMessages.slice(0, 3).join('; ')}`] : []),
    ...(rep.ended ? [`route observer stream ended: ${rep.ended}`] : []),
  ];
  const result: ScenarioResult = {
    id: 'S7',
    title: 'Soak',
    params: { seconds: round(wall, 1), clients: nClients, mode: o.mode, endpointRate: o.endpointRate, routeRate: o.routeRate, sampleSeconds: o.sampleSeconds, model: s.spec },
    metrics,
    notes,
    detail: {
      driftWindows: w,
      rss: rssDrift,
      heap: heapDrift,
      endpointChanges: epNext,
      routeChanges: rtNext,
      writes,
      drainMs: round(drainMs, 0),
      observer: { node: s.observerNode, written: rep.written, observed: rep.observed, responses: rep.responses, maxMs: max(rep.stalenessMs) },
      endedStreams: ended.length,
      samples: samples.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, typeof v === 'number' ? round(v, 2) : v]))),
      rssEverySecond: rssPoints.map((p) => [round(p.t, 1), p.v]),
    },
    peer: 'not applicable',
  };
  return {
    benchmark: 'meshgate',
    scenario: 'S7',
    date: s.startedAt,
    commit: s.commit,
    smoke: o.smoke,
    machine: machineInfo('none (simulated sidecars)'),
    options: { pin: s.pin, workers: o.workers, seconds: o.seconds, clients: o.clients, mode: o.mode, sampleSeconds: o.sampleSeconds, endpointRate: o.endpointRate, routeRate: o.routeRate },
    result,
  };
}

function fmtClock(sec: number): string {
  const m = Math.floor(sec / 60);
  const s = sec - m * 60;
  return `${m}:${s.toFixed(0).padStart(2, '0')}`;
}

function mib(b: number): string {
  return Number.isFinite(b) ? `${(b / 1048576).toFixed(1)} MiB` : '–';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      clients: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      sotw: { type: 'boolean', default: false },
      delta: { type: 'boolean', default: false },
      'sample-seconds': { type: 'string' },
      'endpoint-rate': { type: 'string' },
      'route-rate': { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      workers: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench:soak -- [--minutes 30] [--clients 2000] [--sotw | --delta] [--smoke] [--sample-seconds 10] [--endpoint-rate 100] [--route-rate 1] [--no-pin] [--profile] [--workers 4] [--out FILE]\n');
    return;
  }
  const o = soakDefaults(values.smoke!);
  if (values.minutes) o.seconds = Number(values.minutes) * 60;
  if (values.clients) o.clients = Number(values.clients);
  if (values.sotw) o.mode = 'sotw';
  if (values['sample-seconds']) o.sampleSeconds = Number(values['sample-seconds']);
  if (values['endpoint-rate']) o.endpointRate = Number(values['endpoint-rate']);
  if (values['route-rate']) o.routeRate = Number(values['route-rate']);
  if (values.workers) o.workers = Number(values.workers);
  o.pin = !values['no-pin'];
  o.profile = values.profile === true;
  if (!(o.seconds > 0) || !(o.clients > 0)) throw new Error('--minutes and --clients must be positive');
  const r = await runSoak(o);
  process.stdout.write(`\n${formatScenario(r.result)}\n`);
  const out = values.out ?? path.join(REPO, 'bench', 'out', o.smoke ? 'results-soak-smoke.json' : 'results-soak.json');
  writeResults(out, r);
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(REPO, 'bench', 'scenarios', 's7-soak.ts')) {
  process.stdout.on('error', () => {});
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}

/** meshgate_event_loop_lateness_seconds' cumulative bucket counts from a /metrics scrape (NaN if absent). */
function latenessBuckets(mx: Record<string, number>): number[] {
  return [...LATENESS_BUCKETS_S.map((b) => mx[`meshgate_event_loop_lateness_seconds_bucket{le="${b}"}`] ?? Number.NaN), mx['meshgate_event_loop_lateness_seconds_bucket{le="+Inf"}'] ?? Number.NaN];
}

/** The p-th percentile (ms) of what a cumulative histogram counted between two scrapes, linear within its bucket. */
function bucketPercentile(end: number[], start: number[], p: number): { ms: number; count: number; bucket: string } {
  const counts = end.map((n, i) => n - (start[i] ?? 0));
  const total = counts[counts.length - 1]!;
  if (!(total > 0)) return { ms: Number.NaN, count: 0, bucket: '' };
  const want = (p / 100) * total;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i]! < want) continue;
    const lo = i === 0 ? 0 : LATENESS_BUCKETS_S[i - 1]! * 1000;
    const hi = i < LATENESS_BUCKETS_S.length ? LATENESS_BUCKETS_S[i]! * 1000 : Number.POSITIVE_INFINITY;
    const below = i === 0 ? 0 : counts[i - 1]!;
    const ms = Number.isFinite(hi) ? lo + ((hi - lo) * (want - below)) / Math.max(1, counts[i]! - below) : lo;
    return { ms, count: total, bucket: `${lo}–${hi}` };
  }
  return { ms: Number.NaN, count: total, bucket: '' };
}
