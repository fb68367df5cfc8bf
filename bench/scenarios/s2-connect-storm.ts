// S2 connect storm: 2000 sidecars (~50 clusters, 50 routes, 500 endpoints, 2 secrets each)
// open their ADS streams at once. Time until every one has ACKed CDS, EDS, LDS, RDS and SDS;
// server memory per stream (RSS after − before, / N); the same against the peer.
import path from 'node:path';
import { type Metric, metric, type ProfileWindow, type RunContext, type ScenarioResult, launchMeshgate, launchPeer, nodeSpecs, peerExport, peerStatus, prepareModel, profilesIn } from '../lib/harness.js';
import type { ServerHandle } from '../lib/servers.js';
import type { Mode } from '../loadgen/protocol.js';
import { S2_MESH, sidecarMesh, SMOKE_S2_MESH } from '../models.js';
import { connectStorm, type StormResult } from './common.js';

export async function runS2(ctx: RunContext, modes: Mode[] = ['sotw', 'delta']): Promise<ScenarioResult> {
  const spec = ctx.smoke ? SMOKE_S2_MESH : S2_MESH;
  const doc = sidecarMesh(spec);
  const m = prepareModel(ctx, 's2', doc);
  const plans = doc.proxies();
  const clients = nodeSpecs(plans, m.tokens);
  const peerDir = peerExport(ctx, doc, path.join(m.dir, 'export'));
  const metrics: Metric[] = [];
  const notes: string[] = [];
  const detail: Record<string, unknown> = {};
  const windows: ProfileWindow[] = [];
  const timeout = ctx.smoke ? 30_000 : 120_000;

  const one = async (server: ServerHandle, mode: Mode): Promise<StormResult> => {
    ctx.log(`  ${server.kind} ${mode}: ${clients.length} proxies connect at once`);
    const r = await connectStorm(ctx, server, clients, mode, timeout);
    await r.lg.close();
    ctx.log(`    synced ${r.synced}/${r.clients} in ${r.allMs.toFixed(0)} ms (p50 ${r.p50Ms.toFixed(0)}, p99 ${r.p99Ms.toFixed(0)}); server CPU ${r.serverCpuMs.toFixed(0)} ms; RSS ${(r.memBefore / 1048576).toFixed(0)} → ${(r.memAfter / 1048576).toFixed(0)} MiB; load generator ${r.loadgenCpuPct.toFixed(0)} % of a core; TCP listen overflows ${r.listenOverflows}, SYN retransmits ${r.synRetrans}`);
    if (r.errors.length) notes.push(`${server.kind} ${mode}: load generator errors: ${r.errors.slice(0, 2).join('; ')}`);
    if (r.ended) notes.push(`${server.kind} ${mode}: ${r.ended} streams ended by the server`);
    return r;
  };

  for (const mode of modes) {
    const mg = await launchMeshgate(ctx, m, `s2-${mode}`);
    let mr: StormResult;
    let heapAfter = Number.NaN;
    let heapBefore = Number.NaN;
    try {
      heapBefore = (await mg.metrics())['meshgate_nodejs_heap_size_used_bytes'] ?? Number.NaN;
      mr = await one(mg, mode);
      heapAfter = (await mg.metrics())['meshgate_nodejs_heap_size_used_bytes'] ?? Number.NaN;
    } finally {
      await mg.stop();
    }
    let pr: StormResult | null = null;
    const peer = await launchPeer(ctx, peerDir, `s2-${mode}`);
    if (peer) {
      try {
        pr = await one(peer, mode);
      } finally {
        await peer.stop();
      }
    }
    const perStream = (r: StormResult): number => (r.memAfter - r.memBefore) / r.clients;
    metrics.push(
      metric(`${mode}: all ${clients.length} ACKed (CDS…SDS)`, 'ms', mr.allMs, { peer: pr?.allMs ?? null, target: ctx.smoke ? undefined : { op: '<=', value: 3000 } }),
      metric(`${mode}: per-proxy sync p50`, 'ms', mr.p50Ms, { peer: pr?.p50Ms ?? null }),
      metric(`${mode}: per-proxy sync p99`, 'ms', mr.p99Ms, { peer: pr?.p99Ms ?? null }),
      metric(`${mode}: server CPU during storm`, 'ms', mr.serverCpuMs, { peer: pr?.serverCpuMs ?? null }),
      metric(`${mode}: server RSS per stream`, 'bytes', perStream(mr), { peer: pr ? perStream(pr) : null, target: ctx.smoke ? undefined : { op: '<=', value: 75 * 1024 } }),
      metric(`${mode}: meshgate heap per stream`, 'bytes', (heapAfter - heapBefore) / clients.length),
      metric(`${mode}: server RSS after storm`, 'bytes', mr.memAfter, { peer: pr?.memAfter ?? null }),
      metric(`${mode}: bytes received per proxy`, 'bytes', mr.bytes / clients.length, { peer: pr ? pr.bytes / clients.length : null }),
      metric(`${mode}: load generator CPU`, '%', mr.loadgenCpuPct, { peer: pr?.loadgenCpuPct ?? null }),
      metric(`${mode}: TCP listen queue overflows (machine)`, 'count', mr.listenOverflows, { peer: pr?.listenOverflows ?? null, note: 'SYNs dropped: the client retries after 1 s' }),
    );
    if (pr && Number.isFinite(mr.allMs) && Number.isFinite(pr.allMs)) {
      metrics.push(metric(`${mode}: time ratio meshgate/peer`, 'x', mr.allMs / pr.allMs, { target: ctx.smoke ? undefined : { op: '<=', value: 1 } }));
    }
    detail[mode] = { meshgate: strip(mr), peer: pr ? strip(pr) : null };
    windows.push({ tag: `s2-${mode}`, label: `${mode} storm`, fromMs: mr.t0, toMs: mr.tEnd });
  }
  notes.push(`model: ${spec.services} services × ${spec.instancesPerService} instances (shards of ${spec.instancesPerService / spec.shards}); each sidecar gets ${spec.services + 1} clusters, ${spec.services} assignments × ${spec.instancesPerService / spec.shards} endpoints, 2 listeners, 2 route configurations (${spec.services} virtual hosts outbound), 2 secrets`);
  notes.push('memory per stream: (RSS after the storm and 1 s of quiet − RSS before) / proxies; includes per-connection HTTP/2 and gRPC state');
  return {
    id: 'S2',
    title: 'Connect storm',
    params: { proxies: clients.length, modes, model: spec },
    metrics,
    notes,
    detail,
    peer: peerStatus(ctx),
    profiles: modes.flatMap((md) => profilesIn(ctx, `s2-${md}`)),
    profileWindows: windows,
  };
}

function strip(r: StormResult): Omit<StormResult, 'lg'> {
  const { lg: _lg, ...rest } = r;
  return rest;
}
