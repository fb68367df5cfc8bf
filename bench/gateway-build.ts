// What S1 "at load" and "one-route change" cost in a warm process, with a CPU profile if asked:
//
//   node --expose-gc --import tsx bench/gateway-build.ts [M1k|M10k] [--builds N] [--edits N] [--edit route|cluster] [--profile DIR]
//
//  at load     buildSnapshots of the gateway alone (what serve builds at a load; sidecars are
//              built when their proxy connects) with a fresh MeshBuilder each time: IR,
//              translation, encoding and the snapshot. N builds (default 8); the first ones
//              pay for JIT compilation, so the table shows each and the median of the last half.
//  one route   the gateway's route i (i = 0, 1, 2, …) gets a new path: the process loader's
//              load of the new text, then buildSnapshots on the builder of the previous edit.
//              N edits (default 40), each against the previous text; median, p90 and max.
//              With --edit cluster, edit i flips service s(i mod 50) between http and http2
//              instead (its cluster changes: S5's change).
//  unchanged   the last text loaded again (the process loader: every part is the last load's
//              object) and buildSnapshots on the same builder: a reload that changed nothing
//              (S1's "reload, nothing changed"). N times; median, p90 and max.
//
// With --profile DIR, a V8 CPU profile of the whole run is written to DIR (see
// bench/lib/cpuprofile.ts for a summary by function).
import { Session } from 'node:inspector/promises';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { buildSnapshots, MeshBuilder } from '../src/app/model-source.js';
import { MeshSecurity } from '../src/app/security.js';
import { ModelLoader } from '../src/model/load.js';
import { identitySecret, trustBundleSecret } from '../src/translate/secret.js';
import { type Resource, resourceFromJson } from '../src/xds/resource.js';
import { TYPE } from '../src/xds/type-urls.js';
import { gatewayMesh, M10K, M1K, setServiceProtocol } from './models.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const spec = args.includes('M10k') ? M10K : M1K;
const builds = Number(opt('--builds', '8'));
const edits = Number(opt('--edits', '40'));
const profileDir = opt('--profile', '');
/** Build every proxy first with another builder and keep it (the S1 scenario's state before its one-route edits). */
const allFirst = args.includes('--all');
/** gc() before each edit's load, as the S1 scenario does. */
const gcEach = args.includes('--gc-each');
/** With --profile: profile the one-route edits only (not the builds at load). */
const profileEdits = args.includes('--profile-edits');
/** --edit cluster: each edit flips one service's protocol (its cluster changes: S5's change) instead of a route's path. */
const editKind = opt('--edit', 'route');
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

const q = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

const doc = gatewayMesh(spec);
const loader = new ModelLoader();
const first = loader.load('mesh.yaml', doc.text());
if (!first.model) throw new Error('the generated model does not load');
const model = first.model;
const sec = new MeshSecurity({ stateDir: null, log: pino({ level: 'silent' }) });
const cert = sec.certs.get('bench', 'spiffe://bench.local/service/bench');
const secrets: Resource[] = [resourceFromJson(TYPE.SECRET, identitySecret(cert.chainPem, cert.keyPem)), resourceFromJson(TYPE.SECRET, trustBundleSecret(sec.certs.trustBundlePem([])))];
const secretSource = (): Resource[] => secrets;
const GATEWAY_ONLY: string[] = [];

const session = profileDir ? new Session() : null;
const startProfile = async (): Promise<void> => {
  if (!session) return;
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
};
if (!profileEdits) await startProfile();

let everyProxy: MeshBuilder | null = null;
if (allFirst) {
  everyProxy = new MeshBuilder();
  const t0 = performance.now();
  const r = buildSnapshots(model, everyProxy, 'mesh.yaml', secretSource);
  if (r.errors.length) throw new Error(r.errors[0]!.message);
  gc();
  console.log(`every proxy built first (${r.built.snapshots.size}) in ${(performance.now() - t0).toFixed(0)} ms; heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MiB`);
}

const atLoad: number[] = [];
for (let i = 0; i < builds; i++) {
  const b = new MeshBuilder();
  gc();
  const t0 = performance.now();
  const r = buildSnapshots(model, b, 'mesh.yaml', secretSource, GATEWAY_ONLY);
  atLoad.push(performance.now() - t0);
  if (r.errors.length) throw new Error(r.errors[0]!.message);
}
const steady = atLoad.slice(Math.floor(builds / 2));
console.log(`${spec.name} at load (gateway): ${atLoad.map((x) => x.toFixed(1)).join(' ')} ms; median of the last ${steady.length}: ${q(steady, 0.5).toFixed(1)} ms`);

const builder = new MeshBuilder();
buildSnapshots(model, builder, 'mesh.yaml', secretSource, GATEWAY_ONLY);
if (profileEdits) await startProfile();
const loads: number[] = [];
const rebuilds: number[] = [];
const routes = doc.gateways.get('edge')!.routes;
for (let i = 0; i < edits; i++) {
  if (editKind === 'cluster') setServiceProtocol(doc, `s${i % 50}`, Math.floor(i / 50) % 2 === 0 ? 'http2' : 'http');
  else {
    routes[i % routes.length]!.match = { pathPrefix: `/edited-${i}/` };
    doc.touchGateways();
  }
  const text = doc.text();
  if (gcEach) gc();
  const t0 = performance.now();
  const next = loader.load('mesh.yaml', text);
  const t1 = performance.now();
  if (!next.model) throw new Error('the edited model does not load');
  const r = buildSnapshots(next.model, builder, 'mesh.yaml', secretSource, GATEWAY_ONLY);
  rebuilds.push(performance.now() - t1);
  loads.push(t1 - t0);
  if (r.built.changed.size !== 1) throw new Error(`expected one changed group, got ${r.built.changed.size}`);
}
const fmt = (xs: number[]): string => `median ${q(xs, 0.5).toFixed(2)}, p90 ${q(xs, 0.9).toFixed(2)}, max ${Math.max(...xs).toFixed(2)} ms`;
console.log(`${spec.name} one-${editKind} change, ${edits} edits: load ${fmt(loads)}; build ${fmt(rebuilds)}`);

const sameText = doc.text();
const sameLoads: number[] = [];
const sameBuilds: number[] = [];
for (let i = 0; i < edits; i++) {
  const t0 = performance.now();
  const again = loader.load('mesh.yaml', sameText);
  const t1 = performance.now();
  if (!again.model) throw new Error('the model does not load again');
  const r = buildSnapshots(again.model, builder, 'mesh.yaml', secretSource, GATEWAY_ONLY);
  sameBuilds.push(performance.now() - t1);
  sameLoads.push(t1 - t0);
  if (r.built.changed.size !== 0) throw new Error(`expected no changed group, got ${r.built.changed.size}`);
}
console.log(`${spec.name} nothing changed, ${edits} reloads: load ${fmt(sameLoads)}; build ${fmt(sameBuilds)}`);

if (session) {
  const { profile } = await session.post('Profiler.stop');
  fs.mkdirSync(profileDir, { recursive: true });
  const file = path.join(profileDir, `gateway-build-${spec.name}-${Date.now()}.cpuprofile`);
  fs.writeFileSync(file, JSON.stringify(profile));
  console.log(`profile: ${file}`);
}
