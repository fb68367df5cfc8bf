// The model file as a configuration source: load + validate → IR → Envoy resources → one
// snapshot per proxy (gateway, or sidecar instance).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { buildMeshIR } from '../ir/build.js';
import { gatewayGroup, type MeshIR, sidecarGroup } from '../ir/types.js';
import { type Diagnostic, formatPath } from '../model/diagnostics.js';
import { loadModelFile } from '../model/load.js';
import type { Model } from '../model/schema.js';
import { ResourceEncoder, translateMesh } from '../translate/index.js';
import { SourceError } from '../util/yaml-source.js';
import type { GroupResolver } from '../xds/cache.js';
import { Snapshot } from '../xds/snapshot.js';
import { SHORT_NAME } from '../xds/type-urls.js';
import type { ConfigLoad, ConfigSource } from './config-source.js';

/** A gateway proxy: node cluster = gateway name. A sidecar: node cluster = service, node id = instance id. */
export const resolveModelProxy: GroupResolver = (node, has) => {
  const gw = gatewayGroup(node.cluster);
  if (has(gw)) return gw;
  const sc = sidecarGroup(node.cluster, node.id);
  if (has(sc)) return sc;
  return undefined;
};

/**
 * A diagnostic as a SourceError whose format() is exactly `meshgate validate`'s line
 * (formatDiagnostic: "file:line:col: error: path: message (hint)"), so /status, the serve log
 * and `validate` report a problem the same way.
 */
export function diagnosticToSourceError(d: Diagnostic): SourceError {
  const p = d.path.length ? `${formatPath(d.path)}: ` : '';
  const hint = d.hint ? ` (${d.hint})` : '';
  return new SourceError(`${d.severity}: ${p}${d.message}${hint}`, d.position);
}

export interface BuiltModel {
  model: Model;
  ir: MeshIR;
  snapshots: Map<string, Snapshot>;
}

/** Model → snapshots. Consistency problems here are bugs in the translator, reported as errors. */
export function buildSnapshots(model: Model, enc: ResourceEncoder, file: string): { built: BuiltModel; errors: SourceError[] } {
  const ir = buildMeshIR(model);
  const perProxy = translateMesh(ir, enc);
  const snapshots = new Map<string, Snapshot>();
  const errors: SourceError[] = [];
  for (const [group, resources] of perProxy) {
    const snap = new Snapshot(resources);
    for (const p of snap.problems()) {
      errors.push(new SourceError(`internal error: ${group}: ${SHORT_NAME[p.typeUrl]} "${p.resource}" ${p.message}`, { file, line: 1, column: 1 }));
    }
    snapshots.set(group, snap);
  }
  return { built: { model, ir, snapshots }, errors };
}

export class ModelSource implements ConfigSource {
  readonly description: string;
  readonly watchTarget: string;
  readonly resolver = resolveModelProxy;
  private readonly encoder = new ResourceEncoder();
  /** The last model that built without errors. */
  lastBuilt: BuiltModel | null = null;
  lastDiagnostics: Diagnostic[] = [];

  constructor(file: string) {
    this.watchTarget = path.resolve(file);
    this.description = `model file ${file}`;
  }

  load(): ConfigLoad {
    const r = loadModelFile(this.watchTarget);
    this.lastDiagnostics = r.diagnostics;
    const contentHash = createHash('sha256').update(r.text).digest('hex');
    const errors = r.diagnostics.filter((d) => d.severity === 'error').map(diagnosticToSourceError);
    const warnings = r.diagnostics.filter((d) => d.severity === 'warning').map(diagnosticToSourceError);
    if (!r.model || errors.length) return { snapshots: new Map(), errors, warnings, contentHash };
    const { built, errors: buildErrors } = buildSnapshots(r.model, this.encoder, this.watchTarget);
    if (buildErrors.length === 0) this.lastBuilt = built;
    return { snapshots: built.snapshots, errors: buildErrors, warnings, contentHash };
  }
}
