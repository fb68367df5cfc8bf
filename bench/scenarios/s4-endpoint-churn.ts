// S4 endpoint churn: M1k (1000 services × 10 instances behind gateway "edge"), 500 clients
// (replicas of the gateway: each receives all 1000 clusters and assignments). For each rate
// (100, 1000, 5000 changes/s by default) for a configurable time, endpoints change: change i
// moves instance 0 of service s(i mod 1000) to port 20000 + floor(i / 1000). The model file
// is rewritten every 20 ms with the changes due (the watcher coalesces further).
//
// Measured per rate: server CPU (share of its core), staleness (change written → each client
// ACKs an assignment holding it or a later one: read from the endpoint port, p50/p99/max
// over every (change, client)), server RSS (max sampled), reloads and their duration.
//
// The peer: the gateway group's export is kept as one JSON line per resource; each tick
// re-encodes only the changed assignments, writes the export and POSTs /load (its staleness
// therefore includes reading and decoding its export, as meshgate's includes reading and
// translating the model).
import fs from 'node:fs';
import path from 'node:path';
import { buildMeshIR } from '../../src/ir/build.js';
import type { UpstreamIR } from '../../src/ir/types.js';
import { loadAssignment } from '../../src/translate/endpoint.js';
import { resourceFromJson } from '../../src/xds/resource.js';
import type { Snapshot } from '../../src/xds/snapshot.js';
import { ADS_ORDER, TYPE } from '../../src/xds/type-urls.js';
import { buildGroupSnapshot, loadModel } from '../export.js';
import { exportSecurity, type Metric, metric, type ProfileWindow, type RunContext, type ScenarioResult, launchMeshgate, nodeSpecs, peerStatus, prepareModel, profilesIn, sampleRss, writeModel } from '../lib/harness.js';
import { type PeerHandle, peerBuilt, type ServerHandle, startPeer } from '../lib/servers.js';
import { max, median, sleep } from '../lib/stats.js';
import { histPercentile, type LoadGen } from '../loadgen/loadgen.js';
import { type MarkerSpec, type Mode, nowMs } from '../loadgen/protocol.js';
import { gatewayMesh, M1K, type ModelDoc, setInstancePort, SMOKE_M1K } from '../models.js';
import { connectStorm, settle, settleStep } from './common.js';

const BASE_PORT = 20_000;
const TICK_MS = 20;

interface RateResult {
  t0: number;
  tEnd: number;
  rate: number;
  seconds: number;
  changes: number;
  achievedRate: number;
  writes: number;
  serverCpuPct: number;
  stalenessP50: number;
  stalenessP99: number;
  stalenessMax: number;
  delivered: number;
  expected: number;
  rssMax: number;
  loadgenCpuPct: number;
  reloads: number;
  reloadMsMedian: number;
  reloadMsMax: number;
}

/** Where changes are written: meshgate's model file, or the peer's export. */
interface ChurnSink {
  server: ServerHandle;
  /** Apply changes [from, to) and publish them; returns the publish time. */
  publish(from: number, to: number): Promise<number> | number;
  reloads(): Array<{ ms: number }>;
}

function changeOf(i: number, services: number): { svc: number; round: number } {
  return { svc: i % services, round: Math.floor(i / services) };
}

async function churn(ctx: RunContext, lg: LoadGen, sink: ChurnSink, clients: number, rate: number, seconds: number, start: number): Promise<RateResult> {
  await settle(sink.server, settleStep(ctx));
  const before = await lg.query();
  const since = lg.window(nowMs() + 20); // begins once every worker has the command
  while (nowMs() < since) await sleep(Math.max(1, since - nowMs()));
  const reloads0 = sink.reloads().length;
  const cpu0 = sink.server.cpuMs();
  const rss = sampleRss(() => sink.server.memory().rss);
  const t0 = nowMs();
  let next = start;
  let writes = 0;
  while (nowMs() - t0 < seconds * 1000) {
    const tick = nowMs();
    const due = start + Math.floor(((tick - t0) / 1000) * rate);
    if (due > next) {
      const t = await sink.publish(next, due);
      lg.writes(next, due, t);
      next = due;
      writes++;
    }
    const spent = nowMs() - tick;
    await sleep(Math.max(1, TICK_MS - spent));
  }
  const wall = nowMs() - t0;
  const cpu1 = sink.server.cpuMs();
  const changes = next - start;
  const expected = changes * clients;
  // Let every change reach every client (or give up after a while).
  const deadline = nowMs() + (ctx.smoke ? 20_000 : 60_000);
  let r = await lg.query();
  while ((r.markers?.count ?? 0) < expected && nowMs() < deadline) {
    await sleep(200);
    r = await lg.query();
  }
  const rssMax = rss.stop();
  const m = r.markers;
  const reloads = sink.reloads().slice(reloads0).map((x) => x.ms);
  return {
    t0,
    tEnd: t0 + wall,
    rate,
    seconds,
    changes,
    achievedRate: (changes / wall) * 1000,
    writes,
    serverCpuPct: ((cpu1 - cpu0) / wall) * 100,
    stalenessP50: m ? histPercentile(m, 50) : Number.NaN,
    stalenessP99: m ? histPercentile(m, 99) : Number.NaN,
    stalenessMax: m?.max ?? Number.NaN,
    delivered: m?.count ?? 0,
    expected,
    rssMax,
    loadgenCpuPct: ((r.cpuMicros - before.cpuMicros) / 1000 / wall) * 100,
    reloads: reloads.length,
    reloadMsMedian: median(reloads),
    reloadMsMax: max(reloads),
  };
}

/** The gateway group's export kept as one JSON line per resource; changed assignments are re-encoded. */
class GatewayExport {
  private readonly lines = new Map<string, string>();
  private readonly upstreams = new Map<string, UpstreamIR>();
  private readonly version: string;

  constructor(
    snapshot: Snapshot,
    doc: ModelDoc,
    private readonly dir: string,
  ) {
    for (const t of ADS_ORDER) for (const r of snapshot.resources(t).values()) this.lines.set(`${t}\0${r.name}`, JSON.stringify({ typeUrl: r.typeUrl, name: r.name, version: r.version, value: r.body.toString('base64') }));
    const ir = buildMeshIR(loadModel(doc.text()));
    const gw = ir.proxies.find((p) => p.group === 'gateway/edge')!;
    for (const u of gw.upstreams) this.upstreams.set(u.key, structuredClone(u));
    this.version = snapshot.version;
    fs.mkdirSync(dir, { recursive: true });
  }

  setPort(svc: string, port: number): void {
    const u = this.upstreams.get(svc)!;
    u.endpoints[0]!.port = port;
    const r = resourceFromJson(TYPE.ENDPOINT, loadAssignment(u));
    this.lines.set(`${TYPE.ENDPOINT}\0${r.name}`, JSON.stringify({ typeUrl: r.typeUrl, name: r.name, version: r.version, value: r.body.toString('base64') }));
  }

  write(gen: number): string {
    const body = `{"groups":[{"group":"gateway/edge","nodeIds":["edge"],"version":"${this.version}-${gen}","resources":[${[...this.lines.values()].join(',')}]}]}\n`;
    const file = path.join(this.dir, 'snapshots.json');
    fs.writeFileSync(`${file}.tmp`, body);
    fs.renameSync(`${file}.tmp`, file);
    return this.dir;
  }
}

export async function runS4(ctx: RunContext, modes: Mode[] = ['delta', 'sotw']): Promise<ScenarioResult> {
  const spec = ctx.smoke ? SMOKE_M1K : M1K;
  const nClients = ctx.smoke ? 20 : 500;
  const doc = gatewayMesh(spec);
  const m = prepareModel(ctx, 's4', doc);
  const gw = doc.gatewayProxy('edge');
  const clients = Array.from({ length: nClients }, () => nodeSpecs([gw], m.tokens)[0]!);
  const names = [...doc.services.keys()];
  const metrics: Metric[] = [];
  const notes: string[] = [];
  const detail: Record<string, unknown> = {};
  const timeout = ctx.smoke ? 30_000 : 300_000;
  let nextChange = 0;
  const results: Record<string, RateResult[]> = {};
  const windows: ProfileWindow[] = [];

  const t0 = nowMs();
  const mg = await launchMeshgate(ctx, m, 's4');
  const startupMs = nowMs() - t0;
  ctx.log(`  meshgate ready in ${startupMs.toFixed(0)} ms (model load + every proxy's certificate)`);
  const mgSink: ChurnSink = {
    server: mg,
    publish(from, to) {
      for (let i = from; i < to; i++) {
        const c = changeOf(i, names.length);
        setInstancePort(doc, names[c.svc]!, 0, BASE_PORT + c.round);
      }
      return writeModel(m.file, doc.text());
    },
    reloads: () => mg.reloads(),
  };
  try {
    for (const mode of modes) {
      const markers: MarkerSpec = { names, base: BASE_PORT, ignoreBelow: nextChange };
      const storm = await connectStorm(ctx, mg, clients, mode, timeout, markers);
      ctx.log(`  meshgate ${mode}: ${storm.synced}/${nClients} clients synced in ${storm.allMs.toFixed(0)} ms`);
      try {
        results[`meshgate/${mode}`] = [];
        for (const rate of ctx.churnRates) {
          const r = await churn(ctx, storm.lg, mgSink, nClients, rate, ctx.churnSeconds, nextChange);
          nextChange += r.changes;
          results[`meshgate/${mode}`]!.push(r);
          windows.push({ tag: 's4', label: `${mode} ${rate}/s`, fromMs: r.t0, toMs: r.tEnd });
          ctx.log(`    ${rate}/s: ${r.changes} changes in ${r.writes} writes; server CPU ${r.serverCpuPct.toFixed(0)} %; staleness p50 ${r.stalenessP50.toFixed(0)} / p99 ${r.stalenessP99.toFixed(0)} / max ${r.stalenessMax.toFixed(0)} ms; delivered ${r.delivered}/${r.expected}; ${r.reloads} reloads (median ${r.reloadMsMedian} ms); RSS max ${(r.rssMax / 1048576).toFixed(0)} MiB; load generator ${r.loadgenCpuPct.toFixed(0)} %`);
        }
      } finally {
        await storm.lg.close();
      }
    }
  } finally {
    await mg.stop();
  }

  // The peer, on the same changes.
  let peer: PeerHandle | null = null;
  if (ctx.peer && peerBuilt()) {
    const snap = buildGroupSnapshot(loadModel(doc.text()), 'gateway/edge', exportSecurity());
    const exp = new GatewayExport(snap, doc, path.join(m.dir, 'peer-export'));
    let gen = 0;
    peer = await startPeer(exp.write(gen), path.join(ctx.workDir, 'peer-s4.log'), ctx.pin ? '0' : null);
    if (peer) {
      const p = peer;
      const peerReloads: Array<{ ms: number }> = [];
      // Latest wins, like meshgate's watcher: changes are made to the export at once; one
      // load runs at a time and the next one takes everything made meanwhile.
      let dirty = false;
      let inflight: Promise<void> | null = null;
      const kick = (): void => {
        if (inflight || !dirty) return;
        dirty = false;
        const dir = exp.write(++gen);
        inflight = p
          .load(dir)
          .then((res) => void peerReloads.push({ ms: (res['readMs'] ?? 0) + (res['decodeMs'] ?? 0) + (res['setMs'] ?? 0) }))
          .catch((err: unknown) => ctx.log(`  ! peer load: ${(err as Error).message}`))
          .finally(() => {
            inflight = null;
            kick();
          });
      };
      const sink: ChurnSink = {
        server: p,
        publish(from, to) {
          for (let i = from; i < to; i++) {
            const c = changeOf(i, names.length);
            exp.setPort(names[c.svc]!, BASE_PORT + c.round);
          }
          const t = nowMs();
          dirty = true;
          kick();
          return t;
        },
        reloads: () => peerReloads,
      };
      try {
        for (const mode of modes) {
          const markers: MarkerSpec = { names, base: BASE_PORT, ignoreBelow: nextChange };
          const storm = await connectStorm(ctx, p, clients, mode, timeout, markers);
          ctx.log(`  peer ${mode}: ${storm.synced}/${nClients} clients synced in ${storm.allMs.toFixed(0)} ms`);
          try {
            results[`peer/${mode}`] = [];
            for (const rate of ctx.churnRates) {
              const r = await churn(ctx, storm.lg, sink, nClients, rate, ctx.churnSeconds, nextChange);
              nextChange += r.changes;
              results[`peer/${mode}`]!.push(r);
              ctx.log(`    ${rate}/s: ${r.changes} changes, ${r.reloads} loads; server CPU ${r.serverCpuPct.toFixed(0)} %; staleness p50 ${r.stalenessP50.toFixed(0)} / p99 ${r.stalenessP99.toFixed(0)} / max ${r.stalenessMax.toFixed(0)} ms; delivered ${r.delivered}/${r.expected}; RSS max ${(r.rssMax / 1048576).toFixed(0)} MiB; load generator ${r.loadgenCpuPct.toFixed(0)} %`);
            }
          } finally {
            await storm.lg.close();
          }
        }
      } finally {
        while (inflight) await inflight;
        await p.stop();
      }
    }
  }

  metrics.push(metric('meshgate startup (M1k, ready)', 'ms', startupMs));
  for (const mode of modes) {
    const mr = results[`meshgate/${mode}`] ?? [];
    const pr = results[`peer/${mode}`] ?? null;
    mr.forEach((r, i) => {
      const p = pr?.[i] ?? null;
      const at1000 = r.rate === 1000 && !ctx.smoke;
      metrics.push(
        metric(`${mode} ${r.rate}/s: server CPU (share of its core)`, '%', r.serverCpuPct, { peer: p?.serverCpuPct ?? null, ...(at1000 ? { target: { op: '<=', value: 60 } } : {}) }),
        metric(`${mode} ${r.rate}/s: staleness p50`, 'ms', r.stalenessP50, { peer: p?.stalenessP50 ?? null }),
        metric(`${mode} ${r.rate}/s: staleness p99`, 'ms', r.stalenessP99, { peer: p?.stalenessP99 ?? null, ...(at1000 ? { target: { op: '<=', value: 150 } } : {}) }),
        metric(`${mode} ${r.rate}/s: changes delivered`, 'count', r.delivered, { peer: p?.delivered ?? null, note: `of ${r.expected}` }),
        metric(`${mode} ${r.rate}/s: server RSS max`, 'bytes', r.rssMax, { peer: p?.rssMax ?? null }),
        metric(`${mode} ${r.rate}/s: reloads (median ms)`, 'ms', r.reloadMsMedian, { peer: p?.reloadMsMedian ?? null, note: `${r.reloads} reloads` }),
        metric(`${mode} ${r.rate}/s: load generator CPU`, '%', r.loadgenCpuPct, { peer: p?.loadgenCpuPct ?? null }),
      );
    });
  }
  detail['results'] = results;
  notes.push(`${nClients} clients are replicas of gateway "edge" (node id and cluster "edge"): each holds ${spec.services} clusters and ${spec.services} assignments × ${spec.instancesPerService} endpoints; the model also has ${spec.services * spec.instancesPerService} inbound-only sidecars (not connected: meshgate builds a sidecar's configuration and certificate only when it connects)`);
  notes.push(`the model file is rewritten every ${TICK_MS} ms with the changes due; meshgate's watcher coalesces events (5 ms hold-off, 200 ms max delay) and each reload re-reads and validates the whole model and translates what changed`);
  return {
    id: 'S4',
    title: 'Endpoint churn',
    params: { clients: nClients, rates: ctx.churnRates, seconds: ctx.churnSeconds, modes, model: spec },
    metrics,
    notes,
    detail,
    peer: peerStatus(ctx),
    profiles: profilesIn(ctx, 's4'),
    profileWindows: windows,
  };
}
