// The model file as a configuration source: load + validate → IR → Envoy resources → one
// snapshot per proxy (gateway, or sidecar instance).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildMeshIR } from '../ir/build.js';
import { gatewayGroup, type MeshIR, type ProxyIR, sidecarGroup } from '../ir/types.js';
import { type Diagnostic, formatPath } from '../model/diagnostics.js';
import { loadModelFile } from '../model/load.js';
import type { Model } from '../model/schema.js';
import { ResourceEncoder, translateMesh } from '../translate/index.js';
import type { Resource } from '../xds/resource.js';
import type { MeshSecurity } from './security.js';
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
  /** Translated resources per group, before secrets are added (for certificate rotation). */
  translated: Map<string, Resource[]>;
}

/** The SDS secrets of a proxy (certificate and trust bundle) when mTLS is on. */
export type SecretSource = (proxy: ProxyIR) => Resource[];

/**
 * Model → snapshots. Consistency problems here are bugs in the translator (or a missing
 * secret source for an mTLS model), reported as errors.
 */
export function buildSnapshots(model: Model, enc: ResourceEncoder, file: string, secrets?: SecretSource): { built: BuiltModel; errors: SourceError[] } {
  const ir = buildMeshIR(model);
  const perProxy = translateMesh(ir, enc);
  const snapshots = new Map<string, Snapshot>();
  const errors: SourceError[] = [];
  for (const p of ir.proxies) {
    const snap = new Snapshot([...perProxy.get(p.group)!, ...(p.identity && secrets ? secrets(p) : [])]);
    for (const problem of snap.problems()) {
      errors.push(new SourceError(`internal error: ${p.group}: ${SHORT_NAME[problem.typeUrl]} "${problem.resource}" ${problem.message}`, { file, line: 1, column: 1 }));
    }
    snapshots.set(p.group, snap);
  }
  return { built: { model, ir, snapshots, translated: perProxy }, errors };
}

export class ModelSource implements ConfigSource {
  readonly description: string;
  readonly watchTarget: string;
  readonly resolver = resolveModelProxy;
  private readonly encoder = new ResourceEncoder();
  /** The last model that built without errors. */
  lastBuilt: BuiltModel | null = null;
  lastDiagnostics: Diagnostic[] = [];

  constructor(
    file: string,
    private readonly security: MeshSecurity | null = null,
  ) {
    this.watchTarget = path.resolve(file);
    this.description = `model file ${file}`;
  }

  private secrets(): SecretSource | undefined {
    const sec = this.security;
    return sec ? (p) => sec.secretsFor(p) : undefined;
  }

  peekContentHash(): string | null {
    try {
      return createHash('sha256').update(fs.readFileSync(this.watchTarget, 'utf8')).digest('hex');
    } catch {
      return null;
    }
  }

  /** New snapshots for `groups` with fresh secrets (certificate rotation), from the last build. */
  rebuild(groups: readonly string[]): Map<string, Snapshot> {
    const out = new Map<string, Snapshot>();
    const built = this.lastBuilt;
    const secrets = this.secrets();
    if (!built || !secrets) return out;
    for (const g of groups) {
      const p = built.ir.proxies.find((x) => x.group === g);
      const resources = built.translated.get(g);
      if (!p || !resources) continue;
      const snap = new Snapshot([...resources, ...secrets(p)]);
      built.snapshots.set(g, snap);
      out.set(g, snap);
    }
    return out;
  }

  load(): ConfigLoad {
    const r = loadModelFile(this.watchTarget);
    this.lastDiagnostics = r.diagnostics;
    const contentHash = createHash('sha256').update(r.text).digest('hex');
    const errors = r.diagnostics.filter((d) => d.severity === 'error').map(diagnosticToSourceError);
    const warnings = r.diagnostics.filter((d) => d.severity === 'warning').map(diagnosticToSourceError);
    if (!r.model || errors.length) return { snapshots: new Map(), errors, warnings, contentHash };
    if (r.model.mesh.mtls !== 'off' && !this.security) {
      const e = new SourceError('mesh.mtls needs a certificate authority, but this source has none (construct ModelSource with a MeshSecurity)', { file: this.watchTarget, line: 1, column: 1 }, 'mesh.mtls');
      return { snapshots: new Map(), errors: [e], warnings, contentHash };
    }
    this.security?.setTtl(r.model.mesh.certificateTtl);
    const { built, errors: buildErrors } = buildSnapshots(r.model, this.encoder, this.watchTarget, this.secrets());
    if (buildErrors.length === 0) {
      this.lastBuilt = built;
      this.security?.retain(new Set(built.snapshots.keys()));
    }
    return { snapshots: built.snapshots, errors: buildErrors, warnings, contentHash };
  }
}
