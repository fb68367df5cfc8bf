// meshgate's snapshots for a model, built in-process exactly as `meshgate serve` builds them
// (load + validate, IR, translate, encode, secrets from an in-memory CA), and written to a
// directory for the go-control-plane peer (bench/peer/) and the stub server (bench/lib/):
//
//   DIR/snapshots.json = { "groups": [ { "group": "...", "nodeIds": ["..."], "version": "...",
//       "resources": [ { "typeUrl": "...", "name": "...", "version": "...", "value": "<base64 of the resource's bytes>" } ] } ] }
//
// Node ids: a gateway group → the gateway name; a sidecar group → the instance id.
//
//   npx tsx bench/export.ts --model m1k|m10k|s2|smoke-m1k|smoke-m10k|smoke-s2 --out DIR [--groups gateway|all]
//   npx tsx bench/export.ts -f mesh.yaml --out DIR
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { buildSnapshots, MeshBuilder } from '../src/app/model-source.js';
import { MeshSecurity } from '../src/app/security.js';
import { loadModelText } from '../src/model/load.js';
import type { Model } from '../src/model/schema.js';
import { IrBuilder } from '../src/ir/build.js';
import { ResourceEncoder } from '../src/translate/index.js';
import { Snapshot } from '../src/xds/snapshot.js';
import { ADS_ORDER } from '../src/xds/type-urls.js';
import { gatewayMesh, M10K, M1K, type ModelDoc, S2_MESH, sidecarMesh, SMOKE_M10K, SMOKE_M1K, SMOKE_S2_MESH } from './models.js';

export interface BuiltSnapshots {
  model: Model;
  snapshots: Map<string, Snapshot>;
  security: MeshSecurity;
  encoder: MeshBuilder;
}

/** Load and validate model text; throws with the first errors if it does not load. */
export function loadModel(text: string, file = 'bench-model.yaml'): Model {
  const r = loadModelText(file, text);
  if (!r.model) {
    const errs = r.diagnostics.filter((d) => d.severity === 'error').slice(0, 5);
    throw new Error(`generated model does not load:\n${errs.map((d) => `${d.position.line}:${d.position.column} ${d.message}`).join('\n')}`);
  }
  return r.model;
}

/** Build every group's snapshot like meshgate does (certificates from an in-memory CA). */
export function buildModelSnapshots(model: Model, security?: MeshSecurity, encoder = new MeshBuilder()): BuiltSnapshots {
  const sec = security ?? new MeshSecurity({ stateDir: null, log: pino({ level: 'silent' }) });
  if (model.mesh.certificateTtl) sec.setTtl(model.mesh.certificateTtl);
  const { built, errors } = buildSnapshots(model, encoder, 'bench-model.yaml', model.mesh.mtls !== 'off' ? (p) => sec.secretsFor(p) : undefined);
  if (errors.length) throw new Error(`snapshot problems: ${errors.slice(0, 3).map((e) => e.message).join('; ')}`);
  return { model, snapshots: built.snapshots, security: sec, encoder };
}

/**
 * One group's snapshot without building the others (a gateway of a model with 100 000
 * sidecars would otherwise cost 100 000 certificates): IR, that proxy's translation, its secrets.
 */
export function buildGroupSnapshot(model: Model, group: string, security: MeshSecurity, encoder = new ResourceEncoder()): Snapshot {
  const ir = new IrBuilder();
  ir.update(model);
  const p = ir.proxy(group);
  if (!p) throw new Error(`no proxy group ${group}`);
  return new Snapshot([...encoder.translateProxy(p), ...(p.identity ? security.secretsFor(p) : [])]);
}

/** The node ids that select a group (the peer resolves by node id). */
export function nodeIdsOf(group: string): string[] {
  if (group.startsWith('gateway/')) return [group.slice('gateway/'.length)];
  if (group.startsWith('sidecar/')) return [group.slice(group.lastIndexOf('/') + 1)];
  return [group];
}

export interface ExportResult {
  file: string;
  groups: number;
  resources: number;
  bytes: number;
}

/** Write DIR/snapshots.json for the groups accepted by `filter` (default: all). Streams group by group. */
export function exportSnapshots(snapshots: ReadonlyMap<string, Snapshot>, dir: string, filter: (group: string) => boolean = () => true): ExportResult {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'snapshots.json');
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  let bytes = 0;
  let groups = 0;
  let resources = 0;
  const write = (s: string): void => {
    bytes += fs.writeSync(fd, s);
  };
  try {
    write('{"groups":[');
    for (const [group, snap] of [...snapshots].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (!filter(group)) continue;
      const rs: string[] = [];
      for (const t of ADS_ORDER) {
        for (const r of snap.resources(t).values()) {
          rs.push(JSON.stringify({ typeUrl: r.typeUrl, name: r.name, version: r.version, value: r.body.toString('base64') }));
          resources++;
        }
      }
      write(`${groups ? ',' : ''}\n{"group":${JSON.stringify(group)},"nodeIds":${JSON.stringify(nodeIdsOf(group))},"version":${JSON.stringify(snap.version)},"resources":[${rs.join(',')}]}`);
      groups++;
    }
    write('\n]}\n');
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return { file, groups, resources, bytes };
}

/**
 * Generate, build and export in one go. Pass the same `security` to successive exports of
 * one scenario so that every group keeps its certificate (its secrets do not change).
 */
export function exportModel(doc: ModelDoc, dir: string, filter?: (group: string) => boolean, security?: MeshSecurity): ExportResult {
  return exportSnapshots(buildModelSnapshots(loadModel(doc.text()), security).snapshots, dir, filter);
}

/** Export one group only (built alone, see buildGroupSnapshot). */
export function exportGroup(doc: ModelDoc, group: string, dir: string, security: MeshSecurity): ExportResult {
  const snap = buildGroupSnapshot(loadModel(doc.text()), group, security);
  return exportSnapshots(new Map([[group, snap]]), dir);
}

export const NAMED_MODELS: Record<string, () => ModelDoc> = {
  m1k: () => gatewayMesh(M1K),
  m10k: () => gatewayMesh(M10K),
  s2: () => sidecarMesh(S2_MESH),
  'smoke-m1k': () => gatewayMesh(SMOKE_M1K),
  'smoke-m10k': () => gatewayMesh(SMOKE_M10K),
  'smoke-s2': () => sidecarMesh(SMOKE_S2_MESH),
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { model: { type: 'string' }, file: { type: 'string', short: 'f' }, out: { type: 'string' }, groups: { type: 'string', default: 'all' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || !values.out || (!values.model === !values.file)) {
    process.stdout.write('usage: tsx bench/export.ts (--model m1k|m10k|s2|smoke-m1k|smoke-m10k|smoke-s2 | -f FILE) --out DIR [--groups all|gateway]\n');
    process.exit(values.help ? 0 : 2);
  }
  const gatewaysOnly = values.groups === 'gateway';
  let text: string;
  if (values.model) {
    const gen = NAMED_MODELS[values.model];
    if (!gen) throw new Error(`unknown model ${values.model}`);
    text = gen().text();
    fs.mkdirSync(values.out, { recursive: true });
    fs.writeFileSync(path.join(values.out, 'mesh.yaml'), text);
  } else text = fs.readFileSync(values.file!, 'utf8');
  const t0 = performance.now();
  const model = loadModel(text, values.file ?? 'mesh.yaml');
  let r: ExportResult;
  if (gatewaysOnly) {
    // Gateways alone: no sidecar is built (nor certified).
    const sec = new MeshSecurity({ stateDir: null, log: pino({ level: 'silent' }) });
    r = exportSnapshots(new Map(Object.keys(model.gateways).map((g) => [`gateway/${g}`, buildGroupSnapshot(model, `gateway/${g}`, sec)])), values.out);
  } else r = exportSnapshots(buildModelSnapshots(model).snapshots, values.out);
  process.stdout.write(`${JSON.stringify({ ...r, ms: Math.round(performance.now() - t0) })}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
