// The load generator alone, against the stub server (bench/lib/stub-server.ts), which
// replays pre-encoded responses of the S2 model and does nothing else: the S2 connect storm
// and an S3-like fan-out (the stub pushes a new RDS, then new CDS + EDS, to every stream).
// These are the floors under which no server can be measured here, and the load
// generator's own CPU: if a scenario's load generator CPU approaches 100 % of its core,
// that scenario measures the load generator.
import path from 'node:path';
import { exportModel } from '../export.js';
import { type Metric, metric, nodeSpecs, prepareModel, type RunContext, type ScenarioResult } from '../lib/harness.js';
import { startStub } from '../lib/servers.js';
import { CDS, EDS, type Mode, nowMs, RDS, typeMask } from '../loadgen/protocol.js';
import { S2_MESH, sidecarMesh, SMOKE_S2_MESH } from '../models.js';
import { connectStorm, measureChange } from './common.js';

export async function runLoadgenCeiling(ctx: RunContext, modes: Mode[] = ['sotw', 'delta']): Promise<ScenarioResult> {
  const spec = ctx.smoke ? SMOKE_S2_MESH : S2_MESH;
  const doc = sidecarMesh(spec);
  const m = prepareModel(ctx, 'ceiling', doc);
  const clients = nodeSpecs(doc.proxies(), m.tokens);
  const dir = path.join(m.dir, 'export');
  const t0 = nowMs();
  const ex = exportModel(doc, dir);
  ctx.log(`  exported ${ex.groups} groups (${(ex.bytes / 1048576).toFixed(1)} MiB) in ${(nowMs() - t0).toFixed(0)} ms`);
  const metrics: Metric[] = [];
  const detail: Record<string, unknown> = {};
  const timeout = ctx.smoke ? 30_000 : 120_000;
  for (const mode of modes) {
    const stub = await startStub(dir, path.join(m.dir, `stub-${mode}.log`), ctx.pin ? '0' : null);
    try {
      const storm = await connectStorm(ctx, stub, clients, mode, timeout);
      const lgCpuSec = (storm.loadgenCpuPct / 100) * (storm.allMs / 1000);
      ctx.log(`  stub ${mode}: ${storm.synced}/${storm.clients} synced in ${storm.allMs.toFixed(0)} ms (p99 ${storm.p99Ms.toFixed(0)}); load generator ${storm.loadgenCpuPct.toFixed(0)} % of a core; stub CPU ${storm.serverCpuMs.toFixed(0)} ms; TCP listen overflows ${storm.listenOverflows}`);
      try {
        // T0 before the bump: the runner shares its core with the load generator and may lose it
        // right after sending the bump, while the stub pushes and the proxies ACK (a negative
        // figure at smoke size in CI).
        const rds = await measureChange(ctx, storm.lg, stub, typeMask(RDS), () => {
          const t0 = nowMs();
          stub.bump(['RDS']);
          return t0;
        }, timeout);
        const cds = await measureChange(ctx, storm.lg, stub, typeMask(CDS, EDS), () => {
          const t0 = nowMs();
          stub.bump(['CDS', 'EDS']);
          return t0;
        }, timeout);
        ctx.log(`    RDS to all: p99 ${rds.p99Ms.toFixed(1)} ms, max ${rds.maxMs.toFixed(1)} ms; CDS+EDS to all: p99 ${cds.p99Ms.toFixed(1)} ms (${(cds.bytesPerProxy / 1024).toFixed(0)} KiB each); load generator ${cds.loadgenCpuPct.toFixed(0)} %`);
        metrics.push(
          metric(`${mode}: storm, all synced (floor for S2)`, 'ms', storm.allMs),
          metric(`${mode}: storm, load generator CPU`, '%', storm.loadgenCpuPct),
          metric(`${mode}: storm, TCP listen queue overflows (machine)`, 'count', storm.listenOverflows),
          metric(`${mode}: storm, responses' bytes per load generator CPU-second`, 'bytes', storm.bytes / Math.max(1e-3, lgCpuSec)),
          metric(`${mode}: RDS fan-out, last ACK p99 (floor for S3)`, 'ms', rds.p99Ms),
          metric(`${mode}: CDS+EDS fan-out, last ACK p99`, 'ms', cds.p99Ms),
          metric(`${mode}: CDS+EDS fan-out, load generator CPU`, '%', cds.loadgenCpuPct),
        );
        detail[mode] = { storm: { ...storm, lg: undefined }, rds, cds };
      } finally {
        await storm.lg.close();
      }
    } finally {
      await stub.stop();
    }
  }
  return {
    id: 'LG',
    title: 'Load generator ceiling (stub server)',
    params: { proxies: clients.length, workers: ctx.workers, modes },
    metrics,
    notes: ['the stub answers from pre-encoded buffers (S2 export) with no per-stream work besides framing; every figure here is a floor for S2/S3 on this machine'],
    detail,
    peer: 'not applicable',
  };
}
