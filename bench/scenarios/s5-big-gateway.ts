// S5 big gateway: M10k (10 000 clusters, 10 000 assignments × 10 endpoints, 10 000 routes on
// gateway "edge"; 100 000 inbound-only sidecars in the model) served to 10 gateway clients.
// First push: the 10 connect at once; time until all have ACKed everything, and the server
// CPU it took ("server side"). Then one cluster changes (service s0's protocol: its cluster
// gains HTTP/2 options): model change → last ACK, bytes. SotW, then Delta.
// Memory: server RSS after startup and its peak.
import path from 'node:path';
import { exportSecurity, type Metric, metric, type ProfileWindow, type RunContext, type ScenarioResult, launchMeshgate, launchPeer, nodeSpecs, peerExportGroup, peerStatus, prepareModel, profilesIn, writeModel } from '../lib/harness.js';
import type { ServerHandle } from '../lib/servers.js';
import { CDS, type Mode, nowMs, typeMask } from '../loadgen/protocol.js';
import { gatewayMesh, M10K, type ModelDoc, setServiceProtocol, SMOKE_M10K } from '../models.js';
import { type ChangeResult, connectStorm, measureChange, type StormResult } from './common.js';

interface ModeResult {
  storm: Omit<StormResult, 'lg'>;
  /** The median change (by last ACK) of the repeats; `changes` has each. */
  change: ChangeResult;
  changes: ChangeResult[];
  /** Per change: the server's reload times (peer: read + decode). */
  reloadMs: number[][];
  load?: Record<string, number>;
}

/** One change's time: T0 → the last of the clients' last ACKs. */
const changeMs = (c: ChangeResult): number => c.maxMs;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function runS5(ctx: RunContext, modes: Mode[] = ['sotw', 'delta']): Promise<ScenarioResult> {
  const spec = ctx.smoke ? SMOKE_M10K : M10K;
  const nClients = 10;
  const doc = gatewayMesh(spec);
  const m = prepareModel(ctx, 's5', doc);
  const clients = Array.from({ length: nClients }, () => nodeSpecs([doc.gatewayProxy('edge')], m.tokens)[0]!);
  const timeout = ctx.smoke ? 30_000 : 600_000;
  // The change is made this many times per mode, a second apart (one sample is at the mercy of
  // where the garbage collector happens to be): the figure is the median, the worst beside it.
  const repeats = ctx.smoke ? 2 : 7;
  // Service s0's protocol flips with every change: http (the base) → http2 → http → …, so
  // change k (counting over both modes) writes texts[k % 2]; the peer loads the matching export.
  const texts: string[] = [];
  const shadow: ModelDoc = gatewayMesh(spec);
  for (const proto of ['http2', 'http'] as const) {
    setServiceProtocol(shadow, 's0', proto);
    texts.push(shadow.text());
  }
  const sec = exportSecurity();
  const peerDirs: Array<string | null> = [peerExportGroup(ctx, doc, 'gateway/edge', path.join(m.dir, 'export-0'), sec)];
  if (peerDirs[0]) {
    const s2 = gatewayMesh(spec);
    for (const [i, proto] of (['http2', 'http'] as const).entries()) {
      setServiceProtocol(s2, 's0', proto);
      peerDirs.push(peerExportGroup(ctx, s2, 'gateway/edge', path.join(m.dir, `export-${i + 1}`), sec));
    }
  }

  const windows: ProfileWindow[] = [];
  const runModes = async (server: ServerHandle, change: (k: number) => Promise<number> | number, reloads: () => number[]): Promise<Record<string, ModeResult>> => {
    const out: Record<string, ModeResult> = {};
    let k = 0;
    for (const mode of modes) {
      const storm = await connectStorm(ctx, server, clients, mode, timeout);
      ctx.log(`  ${server.kind} ${mode}: first push to ${storm.synced}/${nClients} in ${storm.allMs.toFixed(0)} ms (server CPU ${storm.serverCpuMs.toFixed(0)} ms, ${(storm.bytes / nClients / 1048576).toFixed(1)} MiB per client); RSS ${(storm.memAfter / 1048576).toFixed(0)} MiB`);
      try {
        const changes: ChangeResult[] = [];
        const reloadMs: number[][] = [];
        for (let r = 0; r < repeats; r++) {
          const r0 = reloads().length;
          const at = k++;
          const ch = await measureChange(ctx, storm.lg, server, typeMask(CDS), () => change(at), timeout, ctx.smoke ? 300 : 1000);
          reloadMs.push(reloads().slice(r0));
          changes.push(ch);
          ctx.log(`    one cluster changed (${r + 1}/${repeats}): last ACK p50 ${ch.p50Ms.toFixed(1)} / max ${ch.maxMs.toFixed(1)} ms; ${(ch.bytesPerProxy / 1024).toFixed(1)} KiB per client; server CPU ${ch.serverCpuMs.toFixed(0)} ms; reload ${reloadMs[r]!.join('+')} ms`);
          if (server.kind === 'meshgate') windows.push({ tag: 's5', label: `${mode} cluster change ${r + 1}`, fromMs: ch.t0, toMs: ch.tEnd });
        }
        const { lg: _lg, ...rest } = storm;
        if (server.kind === 'meshgate') windows.push({ tag: 's5', label: `${mode} first push`, fromMs: storm.t0, toMs: storm.tEnd });
        const byTime = [...changes].sort((a, b) => changeMs(a) - changeMs(b));
        out[mode] = { storm: rest, change: byTime[(byTime.length - 1) >> 1]!, changes, reloadMs };
      } finally {
        await storm.lg.close();
      }
    }
    return out;
  };

  const t0 = nowMs();
  const mg = await launchMeshgate(ctx, m, 's5');
  const startupMs = nowMs() - t0;
  const startupReload = mg.reloads()[0]?.ms ?? Number.NaN;
  const rssStart = mg.memory().rss;
  ctx.log(`  meshgate ready in ${startupMs.toFixed(0)} ms (first load ${startupReload} ms); RSS ${(rssStart / 1048576).toFixed(0)} MiB`);
  let mgr: Record<string, ModeResult>;
  let mgPeak: number;
  try {
    mgr = await runModes(mg, (k) => writeModel(m.file, texts[k % 2]!), () => mg.reloads().map((r) => r.ms));
    mgPeak = mg.memory().peak;
  } finally {
    await mg.stop();
  }

  let pr: Record<string, ModeResult> | null = null;
  let peerRss = Number.NaN;
  let peerPeak = Number.NaN;
  const peer = await launchPeer(ctx, peerDirs[0] ?? null, 's5');
  if (peer) {
    const loads: number[] = [];
    try {
      peerRss = peer.memory().rss;
      pr = await runModes(
        peer,
        async (k) => {
          const t = nowMs();
          void peer.load(peerDirs[1 + (k % 2)]!).then((x) => loads.push((x['readMs'] ?? 0) + (x['decodeMs'] ?? 0)));
          return t;
        },
        () => loads,
      );
      peerPeak = peer.memory().peak;
    } finally {
      await peer.stop();
    }
  }

  const metrics: Metric[] = [
    metric('meshgate startup to ready (load, translate the gateway; sidecars on connect)', 'ms', startupMs),
    metric('meshgate first model load (server log)', 'ms', startupReload),
    metric('server RSS after startup', 'bytes', rssStart, { peer: peer ? peerRss : null }),
    metric('server peak RSS', 'bytes', mgPeak, { peer: peer ? peerPeak : null, target: ctx.smoke ? undefined : { op: '<=', value: 500 * 1024 * 1024 } }),
  ];
  for (const mode of modes) {
    const r = mgr[mode]!;
    const p = pr?.[mode] ?? null;
    metrics.push(
      metric(`${mode}: first push, all ${nClients} ACKed`, 'ms', r.storm.allMs, { peer: p?.storm.allMs ?? null }),
      metric(`${mode}: first push, server CPU`, 'ms', r.storm.serverCpuMs, { peer: p?.storm.serverCpuMs ?? null, target: ctx.smoke ? undefined : { op: '<=', value: 1000 } }),
      metric(`${mode}: first push bytes per client`, 'bytes', r.storm.bytes / nClients, { peer: p ? p.storm.bytes / nClients : null }),
      metric(`${mode}: one-cluster change → last ACK, median of ${repeats}`, 'ms', median(r.changes.map(changeMs)), { peer: p ? median(p.changes.map(changeMs)) : null, ...(mode === 'delta' && !ctx.smoke ? { target: { op: '<=', value: 20 } } : {}) }),
      metric(`${mode}: one-cluster change → last ACK, worst of ${repeats}`, 'ms', Math.max(...r.changes.map(changeMs)), { peer: p ? Math.max(...p.changes.map(changeMs)) : null }),
      metric(`${mode}: … of which meshgate reload, median`, 'ms', median(r.reloadMs.map((x) => x.reduce((a, b) => a + b, 0))), { peer: p ? median(p.reloadMs.map((x) => x.reduce((a, b) => a + b, 0))) : null, note: 'peer: read + decode of its export' }),
      metric(`${mode}: change bytes per client`, 'bytes', r.change.bytesPerProxy, { peer: p?.change.bytesPerProxy ?? null }),
      metric(`${mode}: change server CPU`, 'ms', r.change.serverCpuMs, { peer: p?.change.serverCpuMs ?? null }),
    );
    if (p && Number.isFinite(p.storm.allMs)) metrics.push(metric(`${mode}: first push ratio meshgate/peer`, 'x', r.storm.allMs / p.storm.allMs));
  }
  return {
    id: 'S5',
    title: 'Big gateway',
    params: { clients: nClients, modes, model: spec },
    metrics,
    notes: [
      `M10k: ${spec.services} services × ${spec.instancesPerService} instances${spec.subsets > 1 ? ` (${spec.subsets} version subsets)` : ''}; gateway routes and clusters: ${spec.services * Math.max(1, spec.subsets)}; every instance is also an inbound-only sidecar (not connected: not built, no certificate)`,
      'the change flips service s0 between http and http2: its cluster changes (and its sidecars\' inbound listeners)',
      "meshgate's change time includes the watcher hold-off and a full reload of the model (reload ms); the peer's starts at its /load call",
    ],
    detail: { meshgate: mgr, peer: pr },
    peer: peerStatus(ctx),
    profiles: profilesIn(ctx, 's5'),
    profileWindows: windows,
  };
}
