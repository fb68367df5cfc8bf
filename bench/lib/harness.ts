// What every scenario shares: the run context, result records, model files written the way
// an editor saves them, node identities with meshgate identity tokens, and starting the
// servers to compare.
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { MeshSecurity } from '../../src/app/security.js';
import { NodeTokens, TOKEN_METADATA_KEY } from '../../src/ca/node-token.js';
import { exportGroup, exportModel } from '../export.js';
import type { ModelDoc, ProxyPlan } from '../models.js';
import type { NodeSpec } from './wire.js';
import { nowMs } from '../loadgen/protocol.js';
import { type MeshgateHandle, type PeerHandle, peerBuilt, startMeshgate, startPeer, writeTokenKey } from './servers.js';

export interface RunContext {
  /** Tiny sizes (CI). */
  smoke: boolean;
  /** Scratch directory for this run (models, exports, state, logs). */
  workDir: string;
  /** Pin servers to core 0 (the runner and load generator are on core 1). */
  pin: boolean;
  /** Compare against the go-control-plane peer when it is built. */
  peer: boolean;
  /** Record a CPU profile of meshgate (node --cpu-prof) in each scenario. */
  profile: boolean;
  /** S4: seconds per rate, and the rates. */
  churnSeconds: number;
  churnRates: number[];
  /** Load generator worker processes. */
  workers: number;
  log: (msg: string) => void;
}

export interface Target {
  op: '<=' | '>=';
  value: number;
}

export interface Metric {
  name: string;
  unit: 'ms' | 'bytes' | '%' | 'count' | '/s' | 'x';
  meshgate: number;
  /** The peer's figure in the same run; null: not measured (peer not built or not applicable). */
  peer?: number | null;
  target?: Target;
  note?: string;
}

export interface ScenarioResult {
  id: string;
  title: string;
  params: Record<string, unknown>;
  metrics: Metric[];
  notes: string[];
  /** Extra detail for results.json (not printed). */
  detail?: Record<string, unknown>;
  /** Peer status: "compared", "peer not built", "disabled", or why not. */
  peer: string;
  /** Where meshgate CPU profiles were written. */
  profiles?: string[];
  /** Phases worth a profile summary of their own: the profile tag (directory) and a monotonic time window (ms). */
  profileWindows?: ProfileWindow[];
}

export interface ProfileWindow {
  tag: string;
  label: string;
  fromMs: number;
  toMs: number;
}

export function metric(name: string, unit: Metric['unit'], meshgate: number, more: Partial<Omit<Metric, 'name' | 'unit' | 'meshgate'>> = {}): Metric {
  return { name, unit, meshgate, ...more };
}

export function meets(m: Metric): boolean | null {
  if (!m.target || !Number.isFinite(m.meshgate)) return null;
  return m.target.op === '<=' ? m.meshgate <= m.target.value : m.meshgate >= m.target.value;
}

/** Write a model file the way editors save: a temp file renamed over it. Returns the time just before the rename (T0). */
export function writeModel(file: string, text: string): number {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, text);
  // T0 is taken before the rename: the watcher's event comes during it, and a rename over a big
  // file then frees the old one's pages before returning (M10k's 9.5 MB: ~7 ms), time in which
  // meshgate is already at work on the other core.
  const t0 = nowMs();
  fs.renameSync(tmp, file);
  return t0;
}

/** A model on disk with its state dir, and identity tokens for its proxies. */
export interface PreparedModel {
  dir: string;
  file: string;
  stateDir: string;
  tokens: NodeTokens;
}

export function prepareModel(ctx: RunContext, name: string, doc: ModelDoc): PreparedModel {
  const dir = path.join(ctx.workDir, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'mesh.yaml');
  writeModel(file, doc.text());
  const stateDir = path.join(dir, 'state');
  const key = writeTokenKey(stateDir);
  return { dir, file, stateDir, tokens: new NodeTokens(key) };
}

/** Node specs for proxies: node id and cluster as meshgate bootstraps set them, plus an identity token. */
export function nodeSpecs(plans: readonly ProxyPlan[], tokens: NodeTokens | null): NodeSpec[] {
  const cache = new Map<string, string>();
  return plans.map((p) => {
    const spec: NodeSpec = { id: p.nodeId, cluster: p.cluster };
    if (p.identity && tokens) {
      let tok = cache.get(p.identity);
      if (!tok) cache.set(p.identity, (tok = tokens.issue(p.identity, 86_400_000)));
      spec.metadata = { [TOKEN_METADATA_KEY]: tok };
    }
    return spec;
  });
}

export async function launchMeshgate(ctx: RunContext, m: PreparedModel, tag: string): Promise<MeshgateHandle> {
  return startMeshgate({
    modelFile: m.file,
    stateDir: m.stateDir,
    logFile: path.join(m.dir, `meshgate-${tag}.log`),
    cpus: ctx.pin ? '0' : null,
    profileDir: ctx.profile ? path.join(ctx.workDir, 'profiles', tag) : null,
    // Extra node flags for meshgate, e.g. MESHGATE_BENCH_NODE_ARGS=--max-old-space-size=8192
    nodeArgs: (process.env['MESHGATE_BENCH_NODE_ARGS'] ?? '').split(/\s+/).filter(Boolean),
  });
}

/** Certificates shared by the successive exports of one scenario, so that secrets stay the same. */
export function exportSecurity(): MeshSecurity {
  return new MeshSecurity({ stateDir: null, log: pino({ level: 'silent' }) });
}

/** Export `doc`'s snapshots to DIR (groups filtered) for the peer; null when the peer is off or not built. */
export function peerExport(ctx: RunContext, doc: ModelDoc, dir: string, filter?: (g: string) => boolean, security?: MeshSecurity): string | null {
  if (!ctx.peer || !peerBuilt()) return null;
  const t0 = performance.now();
  const r = exportModel(doc, dir, filter, security);
  ctx.log(`  exported ${r.groups} groups, ${r.resources} resources (${(r.bytes / 1048576).toFixed(1)} MiB) for the peer in ${Math.round(performance.now() - t0)} ms`);
  return dir;
}

/** Export one group of `doc` (built alone) for the peer; null when the peer is off or not built. */
export function peerExportGroup(ctx: RunContext, doc: ModelDoc, group: string, dir: string, security: MeshSecurity): string | null {
  if (!ctx.peer || !peerBuilt()) return null;
  const t0 = performance.now();
  const r = exportGroup(doc, group, dir, security);
  ctx.log(`  exported ${group}: ${r.resources} resources (${(r.bytes / 1048576).toFixed(1)} MiB) for the peer in ${Math.round(performance.now() - t0)} ms`);
  return dir;
}

export async function launchPeer(ctx: RunContext, exportDir: string | null, tag: string): Promise<PeerHandle | null> {
  if (!exportDir) return null;
  return startPeer(exportDir, path.join(ctx.workDir, `peer-${tag}.log`), ctx.pin ? '0' : null);
}

export function peerStatus(ctx: RunContext): string {
  if (!ctx.peer) return 'disabled';
  return peerBuilt() ? 'compared' : 'peer not built (bench/peer/build.sh)';
}

/** Sample a process's RSS every `everyMs` until stopped; returns the maximum seen. */
export function sampleRss(read: () => number, everyMs = 250): { stop(): number } {
  let maxSeen = read();
  const timer = setInterval(() => {
    const v = read();
    if (v > maxSeen) maxSeen = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const v = read();
      return Math.max(maxSeen, v);
    },
  };
}

export function profilesIn(ctx: RunContext, tag: string): string[] {
  const dir = path.join(ctx.workDir, 'profiles', tag);
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}
