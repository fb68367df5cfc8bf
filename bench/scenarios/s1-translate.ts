// S1 translate only, in-process (no xDS): M1k and M10k.
//
//  load        the model text → validated model, cold (a fresh ModelLoader: nothing to reuse)
//  build       model → IR → Envoy resources → encoded once → one snapshot per proxy, with a
//              fresh encoder (everything encoded): "full translate+encode"; at load (the
//              gateway) the best of N builds (M1k 5, M10k 3) after a few untimed ones (M1k 8,
//              M10k 2), as the first builds of a size in a process pay for compiling the code
//  rebuild     the same, with the encoder of the previous build (what a reload costs when
//              nothing changed: meshgate reloads translate everything and reuse encodings)
//  one route   one gateway route's path changed: load (the process loader: only that route's
//              text is read and checked again) + rebuild, and how many groups changed; one
//              edit first, then 20 edits of different routes, each against the previous text:
//              the median is the figure and the maximum is shown beside it
//  secrets     MeshSecurity.secretsFor per proxy with its certificate already issued (what a
//              reload spends on secrets); certificate issuance itself is S6
//
// Secrets in build/rebuild are two fixed, pre-encoded resources shared by every proxy, so
// the figures are translation and encoding only.
import { buildSnapshots, MeshBuilder } from '../../src/app/model-source.js';
import { MeshSecurity } from '../../src/app/security.js';
import { loadModelText, ModelLoader } from '../../src/model/load.js';
import type { Model } from '../../src/model/schema.js';
import { identitySecret, trustBundleSecret } from '../../src/translate/secret.js';
import { type Resource, resourceFromJson } from '../../src/xds/resource.js';
import { TYPE } from '../../src/xds/type-urls.js';
import pino from 'pino';
import { type Metric, metric, type RunContext, type ScenarioResult } from '../lib/harness.js';
import { gatewayMesh, type GatewayMeshSpec, M10K, M1K, SMOKE_M10K, SMOKE_M1K } from '../models.js';

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

/** Load as a reload does: the process's loader, which remembers the last text's parts. */
function load(text: string, loader?: ModelLoader): Model {
  const r = loader ? loader.load('mesh.yaml', text) : loadModelText('mesh.yaml', text);
  if (!r.model) throw new Error(`model does not load: ${r.diagnostics.find((d) => d.severity === 'error')?.message}`);
  return r.model;
}

interface SizeResult {
  name: string;
  proxies: number;
  resources: number;
  distinctResources: number;
  distinctBytes: number;
  loadMs: number;
  buildMs: number;
  rebuildMs: number;
  gatewayBuildMs: number;
  gatewayRebuildMs: number;
  oneRouteGatewayBuildMs: number;
  oneRouteGatewayBuildMaxMs: number;
  oneRouteLoadMaxMs: number;
  oneRouteEdits: number;
  heapBytes: number;
  rssBytes: number;
  oneRouteLoadMs: number;
  oneRouteBuildMs: number;
  oneRouteChangedGroups: number;
  secretsUsPerProxy: number;
}

function fixedSecrets(): Resource[] {
  const sec = new MeshSecurity({ stateDir: null, log: pino({ level: 'silent' }) });
  const cert = sec.certs.get('bench', 'spiffe://bench.local/service/bench');
  return [resourceFromJson(TYPE.SECRET, identitySecret(cert.chainPem, cert.keyPem)), resourceFromJson(TYPE.SECRET, trustBundleSecret(sec.certs.trustBundlePem([])))];
}

function measureSize(ctx: RunContext, spec: GatewayMeshSpec, repeats: number, warmups = 0): SizeResult {
  const doc = gatewayMesh(spec);
  const text = doc.text();
  const secrets = fixedSecrets();
  const secretSource = (): Resource[] => secrets;
  const loads: number[] = [];
  let model: Model;
  for (let i = 0; i < repeats; i++) {
    gc();
    // A cold load: a loader with nothing to reuse (the first load of a process).
    const loader = new ModelLoader();
    const r = timed(() => load(text, loader));
    loads.push(r.ms);
  }
  // The model every build below uses comes from the process loader, as in a running meshgate
  // (one loader, one IR builder): a reload then returns the very objects the builder holds for
  // what did not change. A model from another loader would be equal but not identical, and
  // every build after would pay a deep compare of the whole model.
  model = load(text);
  // What `serve` builds at a load: every gateway; a sidecar's snapshot is built when a proxy of
  // it connects (see the README). With no proxy connected that is the gateway alone: the
  // translation the published anchors measure (a gateway with 1000 routes and clusters).
  const NONE: string[] = [];
  const gwBuilds: number[] = [];
  let gw = new MeshBuilder();
  // The figure is a warm process's (a running meshgate rebuilding a gateway; the published
  // anchors are warm benchmarks): the first builds of this size compile the code (M1k: about
  // 8 builds from ~200 ms down to ~20 ms in bench/gateway-build.ts), which the tiny warm-up
  // model does not reach, so a few untimed builds come first.
  for (let i = 0; i < warmups; i++) {
    gc();
    buildSnapshots(model, new MeshBuilder(), 'mesh.yaml', secretSource, NONE);
  }
  for (let i = 0; i < repeats; i++) {
    gw = new MeshBuilder();
    gc();
    const r = timed(() => buildSnapshots(model, gw, 'mesh.yaml', secretSource, NONE));
    if (r.value.errors.length) throw new Error(r.value.errors[0]!.message);
    gwBuilds.push(r.ms);
  }
  gc();
  const heap0 = process.memoryUsage();
  // Every proxy (10 000 sidecars for M1k), as `render` does and as a reload does once every
  // sidecar has connected.
  const builds: number[] = [];
  let enc = new MeshBuilder();
  let built!: ReturnType<typeof buildSnapshots>['built'];
  for (let i = 0; i < repeats; i++) {
    enc = new MeshBuilder();
    built = undefined as unknown as typeof built;
    gc();
    const r = timed(() => buildSnapshots(model, enc, 'mesh.yaml', secretSource));
    if (r.value.errors.length) throw new Error(r.value.errors[0]!.message);
    builds.push(r.ms);
    built = r.value.built;
  }
  gc();
  const heap1 = process.memoryUsage();
  let resources = 0;
  const distinct = new Set<Resource>();
  for (const s of built.snapshots.values()) {
    for (const t of [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.LISTENER, TYPE.ROUTE, TYPE.SECRET]) {
      for (const r of s.resources(t).values()) {
        resources++;
        distinct.add(r);
      }
    }
  }
  let distinctBytes = 0;
  for (const r of distinct) distinctBytes += r.body.length;
  const rebuilds: number[] = [];
  const gwRebuilds: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const again = load(text); // a reload of the same text: the loader gives the same objects
    gc();
    rebuilds.push(timed(() => buildSnapshots(again, enc, 'mesh.yaml', secretSource)).ms);
    gc();
    gwRebuilds.push(timed(() => buildSnapshots(again, gw, 'mesh.yaml', secretSource, NONE)).ms);
  }
  // One gateway route changed (a path), as a user edits: one edit first (the first build of
  // that path in the process pays for compiling it), then `edits` more, each a different
  // route, each against the previous text. The gateway's build is what serve does at a load;
  // the median is the figure, the maximum is reported beside it.
  const gwDoc = doc.gateways.get('edge')!;
  const edits = ctx.smoke ? 3 : 20;
  const loadsOne: number[] = [];
  const buildsOne: number[] = [];
  let l2!: { value: Model; ms: number };
  for (let e = 0; e <= edits; e++) {
    gwDoc.routes[e % gwDoc.routes.length]!.match = { pathPrefix: `/changed-${e}/` };
    doc.touchGateways();
    const text2 = doc.text();
    gc();
    l2 = timed(() => load(text2));
    const g2 = timed(() => buildSnapshots(l2.value, gw, 'mesh.yaml', secretSource, NONE));
    if (g2.value.built.changed.size !== 1) throw new Error(`a one-route edit changed ${g2.value.built.changed.size} groups`);
    if (e === 0) continue;
    loadsOne.push(l2.ms);
    buildsOne.push(g2.ms);
  }
  gc();
  const b2 = timed(() => buildSnapshots(l2.value, enc, 'mesh.yaml', secretSource));
  const changed = b2.value.built.changed.size;
  // Secrets as meshgate re-encodes them on every reload (certificates already issued).
  const sec = new MeshSecurity({ stateDir: null, log: pino({ level: 'silent' }) });
  const sample = built.ir.proxies.slice(0, ctx.smoke ? 20 : 300);
  for (const p of sample) sec.secretsFor(p);
  const s = timed(() => {
    for (let k = 0; k < 3; k++) for (const p of sample) sec.secretsFor(p);
  });
  const out: SizeResult = {
    name: spec.name,
    proxies: built.snapshots.size,
    resources,
    distinctResources: distinct.size,
    distinctBytes,
    loadMs: Math.min(...loads),
    buildMs: Math.min(...builds),
    rebuildMs: Math.min(...rebuilds),
    gatewayBuildMs: Math.min(...gwBuilds),
    gatewayRebuildMs: Math.min(...gwRebuilds),
    oneRouteGatewayBuildMs: median(buildsOne),
    oneRouteGatewayBuildMaxMs: Math.max(...buildsOne),
    oneRouteLoadMaxMs: Math.max(...loadsOne),
    oneRouteEdits: edits,
    heapBytes: heap1.heapUsed - heap0.heapUsed,
    rssBytes: heap1.rss - heap0.rss,
    oneRouteLoadMs: median(loadsOne),
    oneRouteBuildMs: b2.ms,
    oneRouteChangedGroups: changed,
    secretsUsPerProxy: (s.ms * 1000) / (3 * sample.length),
  };
  return out;
}

export async function runS1(ctx: RunContext): Promise<ScenarioResult> {
  // [model, timed builds at load (best of), untimed warm-up builds before them, target]
  const sizes: Array<[GatewayMeshSpec, number, number, { build: number } | null]> = ctx.smoke
    ? [
        [SMOKE_M1K, 2, 0, null],
        [SMOKE_M10K, 2, 0, null],
      ]
    : [
        [M1K, 5, 8, { build: 40 }],
        [M10K, 3, 2, { build: 400 }],
      ];
  const metrics: Metric[] = [];
  const detail: Record<string, unknown> = {};
  // Warm the code paths once on a tiny model so the first size is not charged for JIT.
  measureSize({ ...ctx, smoke: true }, SMOKE_M1K, 1);
  for (const [spec, repeats, warmups, target] of sizes) {
    ctx.log(`  ${spec.name}: generating, loading and building (at load: best of ${repeats} after ${warmups} untimed)`);
    const r = measureSize(ctx, spec, repeats, warmups);
    ctx.log(
      `    ${r.proxies} proxies, ${r.resources} resources (${r.distinctResources} distinct, ${(r.distinctBytes / 1048576).toFixed(1)} MiB): load ${r.loadMs.toFixed(0)} ms, at load: build ${r.gatewayBuildMs.toFixed(1)} ms, rebuild ${r.gatewayRebuildMs.toFixed(1)} ms, one route ${r.oneRouteGatewayBuildMs.toFixed(2)} ms; every proxy: build ${r.buildMs.toFixed(0)} ms, rebuild ${r.rebuildMs.toFixed(0)} ms; one route: load ${r.oneRouteLoadMs.toFixed(0)} + build ${r.oneRouteBuildMs.toFixed(0)} ms (${r.oneRouteChangedGroups} group changed); heap +${(r.heapBytes / 1048576).toFixed(0)} MiB; secrets ${r.secretsUsPerProxy.toFixed(0)} µs/proxy`,
    );
    detail[spec.name] = r;
    metrics.push(
      metric(`${spec.name}: full translate+encode at load (gateway; sidecars on connect)`, 'ms', r.gatewayBuildMs, target ? { target: { op: '<=', value: target.build } } : {}),
      metric(`${spec.name}: one-route change: build (at load), median of ${r.oneRouteEdits} edits`, 'ms', r.oneRouteGatewayBuildMs, {
        note: `max ${r.oneRouteGatewayBuildMaxMs.toFixed(2)} ms`,
        ...(target ? { target: { op: '<=', value: 1 } } : {}),
      }),
      metric(`${spec.name}: reload, nothing changed: build (at load)`, 'ms', r.gatewayRebuildMs),
      metric(`${spec.name}: load + validate the model text`, 'ms', r.loadMs),
      metric(`${spec.name}: every proxy translate+encode (${r.proxies} proxies, as render)`, 'ms', r.buildMs),
      metric(`${spec.name}: every proxy: reload, nothing changed`, 'ms', r.rebuildMs),
      metric(`${spec.name}: every proxy: one-route change: build`, 'ms', r.oneRouteBuildMs, { note: `${r.oneRouteChangedGroups} group(s) changed` }),
      metric(`${spec.name}: one-route change: load + build (at load), medians`, 'ms', r.oneRouteLoadMs + r.oneRouteGatewayBuildMs, { note: `load max ${r.oneRouteLoadMaxMs.toFixed(1)} ms` }),
      metric(`${spec.name}: snapshots retained (heap)`, 'bytes', r.heapBytes),
      metric(`${spec.name}: secrets per reload, certificates issued (all proxies, est.)`, 'ms', (r.secretsUsPerProxy * r.proxies) / 1000),
      metric(`${spec.name}: proxies / resources`, 'count', r.proxies, { note: `${r.resources} resources, ${r.distinctResources} distinct` }),
    );
  }
  return {
    id: 'S1',
    title: 'Translate only',
    params: { sizes: sizes.map(([s, repeats, warmups]) => ({ ...s, repeats, warmups })), gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function' },
    metrics,
    notes: [
      'in-process, on the runner\'s core; build = IR + translate + encode + snapshots (+ consistency check) with two fixed secrets per proxy; certificate issuance is S6',
      '"at load": what serve builds at every load: the gateways (sidecars are built when their proxy connects); "every proxy": all groups, as render does or as serve does once every sidecar has connected',
      'builds are incremental: unchanged model parts keep their objects and everything derived from them is reused; a one-route change re-translates that route\'s gateway',
      'heap: growth of the V8 heap holding the last build (snapshots, encoder memo), after gc',
    ],
    detail,
    peer: 'not applicable (no xDS)',
  };
}
