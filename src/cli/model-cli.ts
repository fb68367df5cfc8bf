// Shared by the commands that read a model: load it and print diagnostics the same way.
import { buildSnapshots, type BuiltModel, MeshBuilder } from '../app/model-source.js';
import { MeshSecurity } from '../app/security.js';
import { silentLogger } from '../util/log.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import { hasErrors, loadModelFile } from '../model/load.js';

export class ModelInvalid extends Error {
  constructor(readonly report: string) {
    super('the model has errors');
  }
}

/** Load and build a model; throws ModelInvalid (with every diagnostic) if it has errors. */
export function loadBuiltModel(file: string, warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): BuiltModel {
  const r = loadModelFile(file);
  const lines = r.diagnostics.map(formatDiagnostic);
  if (!r.model || hasErrors(r.diagnostics)) throw new ModelInvalid(lines.join('\n'));
  for (const l of lines) warn(l);
  // With mTLS, proxies also hold their certificate and the trust bundle. Offline, these come
  // from a throwaway in-memory CA: same shape as what serve sends, never the real keys.
  const security = r.model.mesh.mtls === 'off' ? null : new MeshSecurity({ stateDir: null, log: silentLogger() });
  security?.setTtl(r.model.mesh.certificateTtl);
  const { built, errors } = buildSnapshots(r.model, new MeshBuilder(), file, security ? (p) => security.secretsFor(p) : undefined);
  if (errors.length) throw new ModelInvalid(errors.map((e) => e.format()).join('\n'));
  return built;
}

/** The group of a proxy named on the command line: a gateway name or an instance id. */
export function proxyGroup(built: BuiltModel, proxy: string): string | undefined {
  return built.ir.proxies.find((p) => p.name === proxy)?.group;
}

export function proxyNames(built: BuiltModel): string[] {
  return built.ir.proxies.map((p) => p.name);
}
