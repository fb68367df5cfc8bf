// S3 fan-out: 2000 sidecars connected (the S2 model); then (a) edit one route (a timeout on
// service s0's route: RDS "outbound" changes for every sidecar) and (b) add one service (a
// new cluster, assignment and virtual host for every sidecar). Model change (the file
// rename) → last proxy's ACK, p50/p99 over proxies, and bytes sent, in SotW and Delta.
//
// The peer gets the same change as a new export loaded over its control port
// (POST /load?dir=…), exported before the clock starts; its T0 is the load call, and its
// own read + decode time of the export is reported separately (meshgate's T0 includes
// reading and translating the model, which the peer never does).
import path from 'node:path';
import { exportSecurity, type Metric, metric, type ProfileWindow, type RunContext, type ScenarioResult, launchMeshgate, launchPeer, nodeSpecs, peerExport, peerStatus, prepareModel, profilesIn, writeModel } from '../lib/harness.js';
import type { MeshgateHandle, PeerHandle } from '../lib/servers.js';
import { CDS, EDS, type Mode, nowMs, RDS, typeMask } from '../loadgen/protocol.js';
import { addSidecarService, editRouteTimeout, type ModelDoc, S2_MESH, sidecarMesh, SMOKE_S2_MESH } from '../models.js';
import { type ChangeResult, connectStorm, measureChange } from './common.js';

interface Change {
  name: string;
  mask: number;
  apply: (doc: ModelDoc, round: number) => void;
}

// Each mode (round) makes its own edits on the same running server: a new timeout, a new service.
const CHANGES: Change[] = [
  { name: 'edit one route', mask: typeMask(RDS), apply: (doc, round) => editRouteTimeout(doc, 's0', `${7 + round}s`) },
  { name: 'add one service', mask: typeMask(CDS, EDS, RDS), apply: (doc) => void addSidecarService(doc) },
];

export async function runS3(ctx: RunContext, modes: Mode[] = ['sotw', 'delta']): Promise<ScenarioResult> {
  const spec = ctx.smoke ? SMOKE_S2_MESH : S2_MESH;
  const metrics: Metric[] = [];
  const notes: string[] = [];
  const detail: Record<string, unknown> = {};
  const timeout = ctx.smoke ? 30_000 : 120_000;
  const quietMs = ctx.smoke ? 100 : 300;
  const windows: ProfileWindow[] = [];

  const doc = sidecarMesh(spec);
  const m = prepareModel(ctx, 's3', doc);
  const clients = nodeSpecs(doc.proxies(), m.tokens);
  // Every model state in order (base, then each change of each mode), and the peer's exports
  // of them, prepared before any clock runs.
  const texts: string[] = [];
  const sec = exportSecurity();
  const peerDirs: Array<string | null> = [peerExport(ctx, doc, path.join(m.dir, 'export-0'), undefined, sec)];
  {
    const shadow = sidecarMesh(spec);
    let k = 0;
    for (let round = 0; round < modes.length; round++) {
      for (const c of CHANGES) {
        c.apply(shadow, round);
        texts.push(shadow.text());
        k++;
        peerDirs.push(peerExport(ctx, shadow, path.join(m.dir, `export-${k}`), undefined, sec));
      }
    }
  }

  const results: Record<string, ChangeResult[]> = {};
  const mg: MeshgateHandle = await launchMeshgate(ctx, m, 's3');
  try {
    let k = 0;
    for (const mode of modes) {
      const storm = await connectStorm(ctx, mg, clients, mode, timeout);
      ctx.log(`  meshgate ${mode}: ${storm.synced}/${storm.clients} synced in ${storm.allMs.toFixed(0)} ms`);
      results[`meshgate/${mode}`] = [];
      try {
        for (const c of CHANGES) {
          const text = texts[k++]!;
          const reloadsBefore = mg.reloads().length;
          const r = await measureChange(ctx, storm.lg, mg, c.mask, () => writeModel(m.file, text), timeout, quietMs);
          const reload = mg.reloads().slice(reloadsBefore);
          ctx.log(`    ${c.name}: ${r.reached}/${r.clients} in p50 ${r.p50Ms.toFixed(1)} / p99 ${r.p99Ms.toFixed(1)} / max ${r.maxMs.toFixed(1)} ms; ${(r.bytes / 1024).toFixed(0)} KiB; reload ${reload.map((x) => x.ms).join('+')} ms; load generator ${r.loadgenCpuPct.toFixed(0)} %`);
          results[`meshgate/${mode}`]!.push(r);
          windows.push({ tag: 's3', label: `${mode} ${c.name}`, fromMs: r.t0, toMs: r.tEnd });
          detail[`${mode}/${c.name}/meshgate`] = { ...r, reloadMs: reload.map((x) => x.ms) };
        }
      } finally {
        await storm.lg.close();
      }
    }
  } finally {
    await mg.stop();
  }

  const peer: PeerHandle | null = await launchPeer(ctx, peerDirs[0] ?? null, 's3');
  if (peer) {
    try {
      let k = 0;
      for (const mode of modes) {
        const storm = await connectStorm(ctx, peer, clients, mode, timeout);
        ctx.log(`  peer ${mode}: ${storm.synced}/${storm.clients} synced in ${storm.allMs.toFixed(0)} ms`);
        results[`peer/${mode}`] = [];
        try {
          for (const c of CHANGES) {
            const dir = peerDirs[++k]!;
            let load: Record<string, number> = {};
            const r = await measureChange(
              ctx,
              storm.lg,
              peer,
              c.mask,
              () => {
                const t0 = nowMs();
                // Not awaited: the load call answers only after every snapshot is set, and
                // pushes start before it returns.
                void peer.load(dir).then((x) => (load = x));
                return t0;
              },
              timeout,
              quietMs,
            );
            ctx.log(`    ${c.name}: ${r.reached}/${r.clients} in p50 ${r.p50Ms.toFixed(1)} / p99 ${r.p99Ms.toFixed(1)} / max ${r.maxMs.toFixed(1)} ms; ${(r.bytes / 1024).toFixed(0)} KiB; peer read+decode ${((load['readMs'] ?? 0) + (load['decodeMs'] ?? 0)).toFixed(0)} ms, set ${(load['setMs'] ?? 0).toFixed(0)} ms`);
            results[`peer/${mode}`]!.push(r);
            detail[`${mode}/${c.name}/peer`] = { ...r, load };
          }
        } finally {
          await storm.lg.close();
        }
      }
    } finally {
      await peer.stop();
    }
  }

  for (const mode of modes) {
    const mgResults = results[`meshgate/${mode}`] ?? [];
    const peerResults = results[`peer/${mode}`] ?? [];
    CHANGES.forEach((c, i) => {
      const r = mgResults[i];
      const p = peerResults[i] ?? null;
      if (!r) return;
      const p99Target = mode === 'delta' ? 100 : 250;
      metrics.push(
        metric(`${mode} ${c.name}: change → last ACK p50`, 'ms', r.p50Ms, { peer: p?.p50Ms ?? null }),
        metric(`${mode} ${c.name}: change → last ACK p99`, 'ms', r.p99Ms, { peer: p?.p99Ms ?? null, target: ctx.smoke ? undefined : { op: '<=', value: p99Target } }),
        metric(`${mode} ${c.name}: proxies reached`, 'count', r.reached, { peer: p?.reached ?? null }),
        metric(`${mode} ${c.name}: bytes sent per proxy`, 'bytes', r.bytesPerProxy, { peer: p?.bytesPerProxy ?? null }),
        metric(`${mode} ${c.name}: server CPU`, 'ms', r.serverCpuMs, { peer: p?.serverCpuMs ?? null }),
      );
      if (p && Number.isFinite(p.p99Ms) && p.p99Ms > 0) metrics.push(metric(`${mode} ${c.name}: p99 ratio meshgate/peer`, 'x', r.p99Ms / p.p99Ms));
    });
  }
  notes.push("meshgate's time includes the file watcher's hold-off (5 ms; 15 ms before 2026-11-22 03:00), reading and validating the whole model and translating what changed (incrementally); the peer's starts at its /load call, which includes reading and decoding its export (see detail.load)");
  notes.push('"edit one route" changes only RDS "outbound"; "add one service" adds a cluster, its assignment and a virtual host for every sidecar (and new sidecars nobody simulates)');
  return {
    id: 'S3',
    title: 'Fan-out of one change',
    params: { proxies: spec.services * spec.instancesPerService, modes, changes: CHANGES.map((c) => c.name) },
    metrics,
    notes,
    detail,
    peer: peerStatus(ctx),
    profiles: profilesIn(ctx, 's3'),
    profileWindows: windows,
  };
}
